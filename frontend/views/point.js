// Pieces that show one point (a row of the embedding) the same way in every panel.

import {el} from './dom.js';

/** A coloured label chip. */
export function labelChip(label, colour, {title} = {}) {
  const text = label === undefined || label === null ? '?' : String(label);
  return el('span', {class: 'chip', title: title || text},
    el('span', {class: 'swatch', style: {background: colour || '#9e9e9e'}}), el('span', {class: 'chip-text'}, text));
}

/**
 * The sprite thumbnail of a point, or (no sprite) a text tile with its metadata.
 * The img is lazy, so long lists cost only what is on screen.
 */
export function thumbnail({src, text, size = 40}) {
  if (src) {
    const img = el('img', {class: 'thumb', src, alt: text || '', loading: 'lazy', width: size, height: size, decoding: 'async'});
    img.addEventListener('error', () => img.classList.add('broken'), {once: true});
    return img;
  }
  return el('span', {class: 'thumb thumb-text', style: {width: `${size}px`, height: `${size}px`}, title: text || ''}, text || '');
}

/** Distance shown with a small bar (relative to the largest in the list). */
export function distanceBar(distance, max) {
  const width = max > 0 && Number.isFinite(distance) ? Math.max(2, Math.round((100 * distance) / max)) : 0;
  return el('span', {class: 'distance', title: `distance ${distance}`},
    el('span', {class: 'distance-bar'}, el('span', {class: 'distance-fill', style: {width: `${width}%`}})),
    el('span', {class: 'distance-value'}, Number.isFinite(distance) ? distance.toFixed(4) : '–'));
}
