/** SVG helpers shared by the sequence diagrams. */
const SVG = "http://www.w3.org/2000/svg";

export function s<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number>,
  text?: string,
): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) element.setAttribute(name, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

/** Arrowheads `#${prefix}arrow-KIND` for initiation, response, data and unused arrows. */
export function arrowMarkers(prefix = ""): SVGDefsElement {
  const defs = s("defs", {});
  for (const kind of ["initiation", "response", "data", "unused"]) {
    const marker = s("marker", {
      id: `${prefix}arrow-${kind}`,
      viewBox: "0 0 10 10",
      refX: 9,
      refY: 5,
      markerWidth: 7,
      markerHeight: 7,
      orient: "auto-start-reverse",
    });
    marker.append(s("path", { d: "M0,0 L10,5 L0,10 z", class: `head ${kind}` }));
    defs.append(marker);
  }
  return defs;
}
