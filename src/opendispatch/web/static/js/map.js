// The map: a pannable, zoomable plane in game coordinates (x east, y north), drawn as SVG.
// Markers keep their size on screen while the plane zooms; a call's radius is in game units.

import { h } from "./dom.js";

const MIN_SCALE = 0.005; // pixels per game unit
const MAX_SCALE = 20;

export class MapView {
  constructor(container, { onSelectCall }) {
    this.container = container;
    this.onSelectCall = onSelectCall;
    this.svg = h("svg", { class: "map-svg", role: "img", "aria-label": "Map of calls and units" });
    container.append(this.svg);
    this.cx = 0;
    this.cy = 0;
    this.scale = 0.5;
    this.width = 400;
    this.height = 300;
    this.mapInfo = null;
    this.calls = [];
    this.units = [];
    this.blips = [];
    this.postal = null; // the postal last searched: {code, x, y}
    this.selected = null;
    this.fitted = false;
    this.drag = null;
    this._listen();
    new ResizeObserver(() => this._resize()).observe(container);
    this._resize();
  }

  _resize() {
    const box = this.container.getBoundingClientRect();
    this.width = Math.max(100, box.width);
    this.height = Math.max(100, box.height);
    this.svg.setAttribute("viewBox", `0 0 ${this.width} ${this.height}`);
    this.svg.setAttribute("width", this.width);
    this.svg.setAttribute("height", this.height);
    this.render();
  }

  _listen() {
    this.svg.addEventListener("pointerdown", (event) => {
      if (event.button !== 0) return;
      this.drag = { x: event.clientX, y: event.clientY, cx: this.cx, cy: this.cy, moved: false };
      this.svg.setPointerCapture(event.pointerId);
    });
    this.svg.addEventListener("pointermove", (event) => {
      if (!this.drag) return;
      const dx = event.clientX - this.drag.x;
      const dy = event.clientY - this.drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 3) this.drag.moved = true;
      this.cx = this.drag.cx - dx / this.scale;
      this.cy = this.drag.cy + dy / this.scale;
      this.render();
    });
    const end = (event) => {
      if (!this.drag) return;
      const clicked = !this.drag.moved;
      this.drag = null;
      this.svg.releasePointerCapture?.(event.pointerId);
      if (clicked) {
        const target = document.elementFromPoint(event.clientX, event.clientY)?.closest("[data-call]");
        if (target) this.onSelectCall(Number(target.dataset.call));
      }
    };
    this.svg.addEventListener("pointerup", end);
    this.svg.addEventListener("pointercancel", () => (this.drag = null));
    this.svg.addEventListener(
      "wheel",
      (event) => {
        event.preventDefault();
        const box = this.svg.getBoundingClientRect();
        this.zoomAt(Math.exp(-event.deltaY * 0.0015), event.clientX - box.left, event.clientY - box.top);
      },
      { passive: false },
    );
    this.svg.addEventListener("dblclick", (event) => {
      const box = this.svg.getBoundingClientRect();
      this.zoomAt(2, event.clientX - box.left, event.clientY - box.top);
    });
  }

  /** Zoom by `factor` keeping the game point under screen (px, py) where it is. */
  zoomAt(factor, px = this.width / 2, py = this.height / 2) {
    const [gx, gy] = this.toGame(px, py);
    this.scale = Math.min(MAX_SCALE, Math.max(MIN_SCALE, this.scale * factor));
    this.cx = gx - (px - this.width / 2) / this.scale;
    this.cy = gy + (py - this.height / 2) / this.scale;
    this.render();
  }

  pan(dxPixels, dyPixels) {
    this.cx += dxPixels / this.scale;
    this.cy -= dyPixels / this.scale;
    this.render();
  }

  toScreen(x, y) {
    return [this.width / 2 + (x - this.cx) * this.scale, this.height / 2 - (y - this.cy) * this.scale];
  }

  toGame(px, py) {
    return [this.cx + (px - this.width / 2) / this.scale, this.cy - (py - this.height / 2) / this.scale];
  }

  /** Show every call, unit and blip; with none, the whole map image (or the area around 0,0). */
  fit() {
    const xs = [];
    const ys = [];
    const blips = this.blips.map((blip) => ({ x: blip.coordinates.x, y: blip.coordinates.y, radius: blip.radius }));
    for (const item of [...this.calls, ...this.units, ...blips]) {
      xs.push(item.x - (item.radius || 0), item.x + (item.radius || 0));
      ys.push(item.y - (item.radius || 0), item.y + (item.radius || 0));
    }
    if (!xs.length && this.mapInfo) {
      const [x1, y1, x2, y2] = this.mapInfo.bounds;
      xs.push(x1, x2);
      ys.push(y1, y2);
    }
    if (!xs.length) {
      xs.push(-500, 500);
      ys.push(-500, 500);
    }
    const [minX, maxX, minY, maxY] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    this.cx = (minX + maxX) / 2;
    this.cy = (minY + maxY) / 2;
    const spanX = Math.max(maxX - minX, 200) * 1.2;
    const spanY = Math.max(maxY - minY, 200) * 1.2;
    this.scale = Math.min(MAX_SCALE, Math.max(MIN_SCALE, Math.min(this.width / spanX, this.height / spanY)));
    this.render();
  }

  /** Centre on a game point (zooming in to street level if far out). */
  centreOn(x, y) {
    this.cx = x;
    this.cy = y;
    this.scale = Math.max(this.scale, 0.6);
    this.render();
  }

  /** Mark a postal found by the search and centre on it. */
  markPostal(postal) {
    this.postal = postal;
    this.centreOn(postal.x, postal.y);
  }

  update({ mapInfo, calls, units, blips = [], selected }) {
    const mapChanged = (mapInfo?.imageUrl || null) !== (this.mapInfo?.imageUrl || null);
    this.mapInfo = mapInfo;
    this.calls = calls;
    this.units = units;
    this.blips = blips;
    this.selected = selected;
    if (!this.fitted || mapChanged) {
      this.fitted = true;
      this.fit();
    } else {
      this.render();
    }
  }

  render() {
    const layers = [this._background()];
    for (const call of this.calls) {
      if (!call.radius) continue;
      const [sx, sy] = this.toScreen(call.x, call.y);
      layers.push(h("circle", { class: `radius kind-${call.kind}`, cx: sx, cy: sy, r: call.radius * this.scale }));
    }
    for (const blip of this.blips) {
      if (!blip.radius) continue;
      const [sx, sy] = this.toScreen(blip.coordinates.x, blip.coordinates.y);
      const colour = blipColour(blip.color);
      layers.push(h("circle", { class: "blip-radius", cx: sx, cy: sy, r: blip.radius * this.scale, fill: colour, stroke: colour }));
    }
    for (const blip of this.blips) layers.push(this._blip(blip));
    for (const unit of this.units) layers.push(this._unit(unit));
    for (const call of this.calls) layers.push(this._call(call));
    if (this.postal) layers.push(this._postal(this.postal));
    this.svg.replaceChildren(...layers);
  }

  _background() {
    const group = h("g", { class: "background" });
    group.append(h("rect", { class: "sea", x: 0, y: 0, width: this.width, height: this.height }));
    if (this.mapInfo) {
      const [x1, y1, x2, y2] = this.mapInfo.bounds;
      const [sx1, sy1] = this.toScreen(x1, y1);
      const [sx2, sy2] = this.toScreen(x2, y2);
      const { width, height } = this.mapInfo;
      group.append(
        h("image", {
          href: this.mapInfo.imageUrl,
          x: 0,
          y: 0,
          width,
          height,
          preserveAspectRatio: "none",
          transform: `translate(${sx1} ${sy1}) scale(${(sx2 - sx1) / width} ${(sy2 - sy1) / height})`,
        }),
      );
      return group;
    }
    // A plain grid in game units, about every 100 pixels, with every fifth line stronger.
    const step = niceStep(100 / this.scale);
    const [left, top] = this.toGame(0, 0);
    const [right, bottom] = this.toGame(this.width, this.height);
    for (let x = Math.floor(left / step) * step; x <= right; x += step) {
      const [sx] = this.toScreen(x, 0);
      const major = Math.round(x / step) % 5 === 0;
      group.append(h("line", { class: major ? "grid major" : "grid", x1: sx, y1: 0, x2: sx, y2: this.height }));
      if (major) group.append(h("text", { class: "grid-label", x: sx + 3, y: this.height - 4 }, formatUnits(x)));
    }
    for (let y = Math.floor(bottom / step) * step; y <= top; y += step) {
      const [, sy] = this.toScreen(0, y);
      const major = Math.round(y / step) % 5 === 0;
      group.append(h("line", { class: major ? "grid major" : "grid", x1: 0, y1: sy, x2: this.width, y2: sy }));
      if (major) group.append(h("text", { class: "grid-label", x: 3, y: sy - 3 }, formatUnits(y)));
    }
    return group;
  }

  _call(call) {
    const [sx, sy] = this.toScreen(call.x, call.y);
    const selected = this.selected === call.id ? " selected" : "";
    const classes = `marker call kind-${call.kind}${call.emergency ? " emergency" : ""}${selected}`;
    // 911 calls are circles (with "!" when an emergency), dispatch calls are diamonds: shape, not colour.
    const shape =
      call.kind === "dispatch"
        ? h("polygon", { points: `${sx},${sy - 11} ${sx + 11},${sy} ${sx},${sy + 11} ${sx - 11},${sy}` })
        : h("circle", { cx: sx, cy: sy, r: 9 });
    return h(
      "g",
      { class: classes, dataset: { call: call.id }, tabindex: -1 },
      h("title", {}, call.title),
      shape,
      h("text", { class: "glyph", x: sx, y: sy + 4 }, call.kind === "dispatch" ? "D" : call.emergency ? "!" : "9"),
      h("text", { class: "marker-label", x: sx + 13, y: sy - 8 }, `#${call.id}`),
    );
  }

  _blip(blip) {
    const [sx, sy] = this.toScreen(blip.coordinates.x, blip.coordinates.y);
    const details = blip.data.map((row) => `\n${row.title} ${row.text}`).join("");
    // A triangle in the blip's colour: blips are the community's own marks, not calls or units.
    return h(
      "g",
      { class: "marker blip", dataset: { blip: blip.id } },
      h("title", {}, `${blip.tooltip || blip.subType || "Blip"}${details}`),
      h("polygon", { points: `${sx},${sy - 9} ${sx + 8},${sy + 6} ${sx - 8},${sy + 6}`, fill: blipColour(blip.color) }),
      blip.tooltip ? h("text", { class: "marker-label", x: sx + 10, y: sy + 4 }, blip.tooltip) : null,
    );
  }

  _postal(postal) {
    const [sx, sy] = this.toScreen(postal.x, postal.y);
    return h(
      "g",
      { class: "postal-pin", dataset: { postal: postal.code } },
      h("title", {}, `Postal ${postal.code}`),
      h("circle", { cx: sx, cy: sy, r: 6 }),
      h("text", { class: "marker-label", x: sx + 9, y: sy - 6 }, `Postal ${postal.code}`),
    );
  }

  _unit(unit) {
    const [sx, sy] = this.toScreen(unit.x, unit.y);
    const classes = `marker unit status-${unit.status}${unit.panic ? " panic" : ""}${unit.stale ? " stale" : ""}`;
    const dataset = { unit: unit.id, x: unit.x, y: unit.y };
    if (unit.callId) dataset.call = unit.callId;
    const parts = [h("title", {}, unit.title)];
    if (unit.heading != null && Number.isFinite(unit.heading)) {
      // The game's heading turns counter-clockwise from north; SVG's rotate() turns clockwise.
      parts.push(
        h("polygon", {
          class: "unit-heading",
          points: `${sx},${sy - 14} ${sx - 4},${sy - 7} ${sx + 4},${sy - 7}`,
          transform: `rotate(${-unit.heading} ${sx} ${sy})`,
        }),
      );
    }
    parts.push(
      h("rect", { x: sx - 6, y: sy - 6, width: 12, height: 12, rx: 2 }),
      h("text", { class: "marker-label", x: sx + 9, y: sy + 4 }, unit.label),
    );
    return h("g", { class: classes, dataset }, ...parts);
  }
}

// A blip's colour as sent ("#ff0000", "red"); anything else is drawn in a neutral grey.
function blipColour(colour) {
  return /^#[0-9a-f]{3,8}$|^[a-z]{3,20}$/i.test(colour || "") ? colour : "#94a3b8";
}

function niceStep(raw) {
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  for (const factor of [1, 2, 5, 10]) if (factor * magnitude >= raw) return factor * magnitude;
  return 10 * magnitude;
}

function formatUnits(value) {
  return Math.abs(value) >= 10000 ? `${(value / 1000).toFixed(0)}k` : String(Math.round(value));
}
