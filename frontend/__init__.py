# Makes frontend/ an importable sub-package (tb_embedanalysis.frontend) so that its JS and CSS
# ship inside the wheel and are found through importlib.resources in editable installs too.
