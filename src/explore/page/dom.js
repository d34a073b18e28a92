// Small DOM helpers shared by the page's scripts (classic scripts: one global scope, loaded in the
// order index.html lists them; the report inlines them in that order).
'use strict';

/** An element with attributes (`onclick` as a listener) and children (nodes, or text). */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === 'onclick') node.addEventListener('click', value);
    else if (value !== undefined && value !== null) node.setAttribute(name, String(value));
  }
  for (const child of children.flat())
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

const fmt = (v, digits = 2) => (v === null || v === undefined || Number.isNaN(v) ? '–' : Number(v).toFixed(digits));
