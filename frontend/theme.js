// Light or dark, as TensorBoard shows itself.
//
// TensorBoard (2.x) marks its dark theme with the class `dark-mode` on its own <body> (its
// `dark-mode-supporter` component toggles it for the header's theme menu, whose default
// follows the system's prefers-color-scheme) and sends dynamic plugins no theme message (the
// plugin host API has none). So we read the parent document, same-origin when TensorBoard
// serves us, and watch its class; when there is no readable parent (the tab opened on its
// own, or a cross-origin embedder) we follow prefers-color-scheme, as TensorBoard does.
//
// The theme is `data-theme` on our <html>: style.css defines every colour as a variable for
// both; the canvas reads its colours from the same variables (mapColours).

const listeners = [];
let current = null;

function parentBody() {
  try {
    if (window.parent === window) return null;
    return window.parent.document.body; // throws when cross-origin
  } catch (_) {
    return null;
  }
}

function detect() {
  const body = parentBody();
  if (body) return body.classList.contains('dark-mode') ? 'dark' : 'light';
  return window.matchMedia?.('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

function apply() {
  const theme = detect();
  if (theme === current) return;
  current = theme;
  document.documentElement.dataset.theme = theme;
  document.documentElement.style.colorScheme = theme; // form controls and scroll bars follow
  for (const listener of listeners) listener(theme);
}

/** Start following TensorBoard's theme (once, at boot). */
export function followTheme() {
  apply();
  const body = parentBody();
  if (body) new MutationObserver(apply).observe(body, {attributes: true, attributeFilter: ['class']});
  window.matchMedia?.('(prefers-color-scheme: dark)').addEventListener('change', apply);
}

/** listener(theme) after every change; returns the current theme. */
export function onThemeChange(listener) {
  listeners.push(listener);
  return current;
}

/** The canvas's colours in the current theme, from style.css's --map-* variables. */
export function mapColours() {
  const style = getComputedStyle(document.documentElement);
  const read = (name, fallback) => style.getPropertyValue(name).trim() || fallback;
  return {
    background: read('--map-bg', '#ffffff'),
    dimmed: read('--map-dimmed', '#e0e0e0'),
    ink: read('--map-ink', '#212121'),
    halo: read('--map-halo', '#ffffff'),
    hard: read('--map-hard', 'rgba(33, 33, 33, 0.85)'),
    outlier: read('--map-outlier', '#aa00ff'),
  };
}
