/**
 * xterm.js writes its computed styles (cell size, theme, scrollbar) into `<style>` elements it
 * creates, which the page's Content-Security-Policy (`style-src 'self'`, no inline styles)
 * refuses. vite.config.ts makes xterm call this instead: an inert `<template>` element whose
 * `textContent` fills a constructed style sheet adopted by the document (CSSOM, which the policy
 * allows), and whose `remove()` drops the sheet too. xterm uses nothing else of those elements.
 */
export function adoptedStyle(doc: Document): HTMLElement {
  const sheet = new CSSStyleSheet();
  doc.adoptedStyleSheets = [...doc.adoptedStyleSheets, sheet];
  const holder = doc.createElement("template");
  let text = "";
  Object.defineProperty(holder, "textContent", {
    get: () => text,
    set: (value: string) => {
      text = value;
      sheet.replaceSync(value);
    },
  });
  const remove = holder.remove.bind(holder);
  holder.remove = () => {
    doc.adoptedStyleSheets = doc.adoptedStyleSheets.filter((s) => s !== sheet);
    remove();
  };
  return holder;
}
