/* SSPINNpose live dashboard: the pure time-series rules (no DOM), shared by app.js and
 * the tests (node: require("dashboard/static/series.js")).
 *
 * A line is drawn only between frames that follow each other: where the sample clock
 * jumps by more than GAP_FACTOR frame periods (a stall, lost messages, a restarted
 * device) the line breaks and the gap is shown as a gap, never bridged by a straight
 * line that a reader would take for data.
 */
(function (root, factory) {
  var api = factory();
  if (typeof module === "object" && module.exports) module.exports = api;
  else root.sspinnSeries = api;
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  var GAP_FACTOR = 3;          // a step longer than this many frame periods is a gap
  var MIN_PERIOD_S = 0.0025;   // 400 frames/s: the fastest a device publishes

  function isNum(v) { return typeof v === "number" && isFinite(v); }

  // The frame period (s): from the device's published rate (meta.publish_rate_hz, the
  // effective rate) when known, else the median step of the newest frames.
  function framePeriod(frames, publishRateHz) {
    if (isNum(publishRateHz) && publishRateHz > 0) {
      return Math.max(1 / publishRateHz, MIN_PERIOD_S);
    }
    var steps = [];
    for (var i = Math.max(1, frames.length - 40); i < frames.length; i++) {
      var d = frames[i].t - frames[i - 1].t;
      if (d > 0) steps.push(d);
    }
    if (!steps.length) return null;
    steps.sort(function (a, b) { return a - b; });
    return Math.max(steps[steps.length >> 1], MIN_PERIOD_S);
  }

  // Longest step (s) between two frames that a line may join.
  function gapLimit(frames, publishRateHz) {
    var period = framePeriod(frames, publishRateHz);
    return period === null ? Infinity : GAP_FACTOR * period;
  }

  // Runs of frames i0..i1 a line joins: [[first, last], ...] (indices), split where a
  // value is missing (valueOf returns null) or the step exceeds `limit` seconds.
  function runs(frames, i0, i1, valueOf, limit) {
    var out = [], start = -1, prev = -1;
    for (var i = Math.max(0, i0); i <= i1 && i < frames.length; i++) {
      var v = valueOf(frames[i]);
      if (v === null || v === undefined) {
        if (start >= 0) out.push([start, prev]);
        start = -1;
        continue;
      }
      if (start >= 0 && frames[i].t - frames[prev].t > limit) {
        out.push([start, prev]);
        start = -1;
      }
      if (start < 0) start = i;
      prev = i;
    }
    if (start >= 0) out.push([start, prev]);
    return out;
  }

  // Gaps among frames i0..i1: [[tBefore, tAfter], ...] where the step exceeds `limit`.
  function gaps(frames, i0, i1, limit) {
    var out = [];
    for (var i = Math.max(1, i0 + 1); i <= i1 && i < frames.length; i++) {
      if (frames[i].t - frames[i - 1].t > limit) out.push([frames[i - 1].t, frames[i].t]);
    }
    return out;
  }

  // Time-axis ticks (s of the device's sample clock) in [tStart, tEnd]: whole seconds,
  // every `every` s so that labels stay at least `minPx` apart on `widthPx`.
  function timeTicks(tStart, tEnd, widthPx, minPx) {
    var span = tEnd - tStart, every = 1;
    var choices = [1, 2, 5, 10, 30, 60];
    for (var c = 0; c < choices.length; c++) {
      every = choices[c];
      if (widthPx * every / span >= (minPx || 40)) break;
    }
    var out = [];
    for (var s = Math.ceil(tStart / every) * every; s <= tEnd; s += every) {
      out.push({ t: s, label: s.toFixed(0) + " s" });
    }
    return out;
  }

  return {
    GAP_FACTOR: GAP_FACTOR,
    framePeriod: framePeriod,
    gapLimit: gapLimit,
    runs: runs,
    gaps: gaps,
    timeTicks: timeTicks
  };
});
