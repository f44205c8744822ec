"""How TensorBoard loads the plugin: our command-line flags, then the plugin itself.

The loader lives in its own module, importing nothing heavy, so that TensorBoard can list
the plugin even when an optional dependency of the plugin proper is broken.
"""

from tensorboard.plugins import base_plugin

from tb_embedanalysis.budget import DEFAULT_WORK_MEMORY_MB
from tb_embedanalysis.errors import InvalidArgument
from tb_embedanalysis.plugin.hosts import FLAG as ALLOWED_HOSTS_FLAG
from tb_embedanalysis.plugin.hosts import check_names
from tb_embedanalysis.tags import default_cache_dir

DEFAULT_MAX_MEMORY_MB = 2048.0
DEFAULT_RESULT_CACHE_MB = 1024.0
DEFAULT_DISK_CACHE_MB = 4096.0


class EmbedAnalysisLoader(base_plugin.TBLoader):
    def define_flags(self, parser):
        group = parser.add_argument_group("embedanalysis")
        group.add_argument(
            "--embedanalysis_cache_dir",
            metavar="DIR",
            type=str,
            default="",
            help="Where the Embedding Analysis tab keeps computed kNN graphs and maps "
            "(content-addressed; safe to delete) and the tags given in the tab (tags.sqlite3: "
            "deleting it deletes them). Default: %s. Pass 'none' to keep results and tags in "
            "memory only." % default_cache_dir(),
        )
        group.add_argument(
            "--embedanalysis_max_memory_mb",
            metavar="MB",
            type=float,
            default=DEFAULT_MAX_MEMORY_MB,
            help="Upper bound on embedding vectors held in memory by the Embedding "
            "Analysis tab; least recently used embeddings are evicted (default %(default)s).",
        )

        group.add_argument(
            "--embedanalysis_result_cache_mb",
            metavar="MB",
            type=float,
            default=DEFAULT_RESULT_CACHE_MB,
            help="Upper bound on analysis results (kNN graphs, statistics, maps) held in memory "
            "by the Embedding Analysis tab; least recently used evicted (default %(default)s).",
        )
        group.add_argument(
            "--embedanalysis_disk_cache_mb",
            metavar="MB",
            type=float,
            default=DEFAULT_DISK_CACHE_MB,
            help="Upper bound on the on-disk cache of kNN graphs and maps; least recently used "
            "entries are deleted (default %(default)s).",
        )
        group.add_argument(
            "--embedanalysis_work_memory_mb",
            metavar="MB",
            type=float,
            default=DEFAULT_WORK_MEMORY_MB,
            help="Working memory one analysis may take while it runs (two run at once), estimated "
            "before it starts: a larger one (say k=1000 on 100,000 points) is refused with a message "
            "saying what fits. Sprite decodes in flight share one such budget (default %(default)s).",
        )

        group.add_argument(
            ALLOWED_HOSTS_FLAG,
            metavar="NAMES",
            type=str,
            default="",
            help="Comma-separated host names the Embedding Analysis tab answers to besides IP "
            "addresses, localhost, --host and this machine's name: e.g. the name colleagues "
            "use on the LAN, or a reverse proxy's. '.example.com' allows it and its subdomains, "
            "'*' any name. Other names are refused (a guard against DNS rebinding).",
        )

    def fix_flags(self, flags):
        for name in ("max_memory_mb", "result_cache_mb", "disk_cache_mb", "work_memory_mb"):
            if getattr(flags, "embedanalysis_" + name, 1) <= 0:
                raise base_plugin.FlagsError("--embedanalysis_%s must be positive" % name)
        try:
            check_names(getattr(flags, "embedanalysis_allowed_hosts", "") or "")
        except InvalidArgument as error:
            raise base_plugin.FlagsError(str(error)) from None

    def load(self, context):
        from tb_embedanalysis.plugin.hosts import AllowedHosts
        from tb_embedanalysis.plugin.plugin import EmbedAnalysisPlugin

        flags = context.flags
        cache_dir = getattr(flags, "embedanalysis_cache_dir", "") if flags else ""
        if not cache_dir:
            cache_dir = default_cache_dir()
        elif cache_dir.lower() == "none":
            cache_dir = None
        return EmbedAnalysisPlugin(
            context,
            cache_dir=cache_dir,
            max_memory_mb=getattr(flags, "embedanalysis_max_memory_mb", DEFAULT_MAX_MEMORY_MB),
            result_cache_mb=getattr(flags, "embedanalysis_result_cache_mb", DEFAULT_RESULT_CACHE_MB),
            disk_cache_mb=getattr(flags, "embedanalysis_disk_cache_mb", DEFAULT_DISK_CACHE_MB),
            allowed_hosts=AllowedHosts.from_flags(host=getattr(flags, "host", None),
                                                  bind_all=bool(getattr(flags, "bind_all", False)),
                                                  added=getattr(flags, "embedanalysis_allowed_hosts", "") or ""),
            work_memory_mb=getattr(flags, "embedanalysis_work_memory_mb", DEFAULT_WORK_MEMORY_MB),
            warm_maps=True,
        )
