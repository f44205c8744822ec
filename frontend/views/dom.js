// Small DOM helpers shared by every view. Text always goes through textContent and
// attributes through setAttribute, never innerHTML: metadata values come from users' files
// and must render as text (a label "<img src=x onerror=alert(1)>" is just a string here).

/**
 * el('div', {class: 'card', title: 'x', onclick: fn}, child, 'text', [more, children])
 * Attributes starting with "on" become event listeners; `dataset` is an object; strings and
 * numbers become text nodes; null/undefined/false children are skipped.
 */
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  if (attrs) {
    for (const [key, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (key.startsWith('on') && typeof value === 'function') {
        node.addEventListener(key.slice(2), value);
      } else if (key === 'dataset') {
        Object.assign(node.dataset, value);
      } else if (key === 'style' && typeof value === 'object') {
        Object.assign(node.style, value);
      } else if (key === 'value' || key === 'checked' || key === 'disabled' || key === 'selected') {
        node[key] = value;
      } else {
        node.setAttribute(key, value === true ? '' : String(value));
      }
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else if (child instanceof Node) node.appendChild(child);
    else node.appendChild(document.createTextNode(String(child)));
  }
}

/** Replace all children of `node`. */
export function replace(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

/** A figure for display: 0.9731 → "0.973", null → "–", integers with thousands separators. */
export function fmt(value, digits = 3) {
  if (value === null || value === undefined || Number.isNaN(value)) return '–';
  if (typeof value !== 'number') return String(value);
  if (Number.isInteger(value)) return value.toLocaleString('en-US');
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 10 ** -digits || abs >= 1e6)) return value.toExponential(2);
  return value.toFixed(digits);
}

export function pct(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return '–';
  return (100 * value).toFixed(1) + '%';
}

/** A one-line summary of a metadata row, leaving out the label column and an "Index" column
 * equal to the row number (both are shown elsewhere). */
export function metadataText(metadata, {skip = [], index = null} = {}) {
  if (!metadata) return '';
  const parts = [];
  for (const [key, value] of Object.entries(metadata)) {
    if (skip.includes(key)) continue;
    if (index !== null && /^index$/i.test(key) && String(value) === String(index)) continue;
    parts.push(Object.keys(metadata).length === 1 ? value : `${key}: ${value}`);
  }
  return parts.join(' · ');
}

export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/** A panel's card: {node, body, heading, actions} (actions: links next to the title). */
export function card(title, cls) {
  const body = el('div', {class: 'card-body'});
  const actions = el('div', {class: 'card-actions'});
  const heading = el('h2', {class: 'card-title'}, title);
  const node = el('section', {class: `card ${cls}`}, el('div', {class: 'card-head'}, heading, actions), body);
  return {node, body, heading, actions};
}
