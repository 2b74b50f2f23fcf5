/* SSPINNpose live dashboard: plain JavaScript (ES2017), canvas drawing, no libraries.
 *
 * Data comes from the bridge (dashboard/server.py) as Server-Sent Events:
 *   hello, bridge {mqtt_connected}, status "online"|"offline", meta {...}, health {...},
 *   estimate {frames: [frame, ...], dropped: n}
 * A frame is {t, seq, angles_deg: {...}, moments_bwbh: {...}, grf_bw: {...}, speed_m_s,
 * quality}; any value may be null. Playback runs a little behind the newest frame so
 * batched messages still give smooth motion. Where frames are missing (a stall, lost
 * messages) the plots break their lines and the figure shows no pose: series.js.
 * When the device is offline (its retained status says so, or neither estimates nor
 * health have come for 3 health periods) a banner says since when, the plots stop at
 * the last frame received and the stretch after it is marked offline: nothing is drawn
 * there, and the figure shows the last pose, greyed.
 */
(function () {
  "use strict";

  var SERIES = window.sspinnSeries;  // series.js: gaps, runs, time ticks
  var WINDOW_S = 5;      // plot width (s)
  var KEEP_S = 7;        // frames kept (s)
  var LAG_S = 0.15;      // playback delay behind the newest frame (s)
  var STALE_S = 3;       // "last update" turns red after this
  var SILENT_PERIODS = 3; // no estimate and no health for this many health periods: offline
  var OFFLINE_TAIL_S = 1.2; // plotted after the last frame while offline (marked, no data)
  var DEG = Math.PI / 180;
  var COLORS = {
    right: "#ff6b4a", left: "#3fa7ff", trunk: "#c8ced4", grf: "#7ddc7a",
    grid: "#2a323b", axis: "#3a444e", text: "#8c96a0", ground: "#59636d"
  };
  var SIDES = [COLORS.right, COLORS.left];
  var PLOTS = [
    { id: "hip", title: "Hip flexion", unit: "°", group: "angles_deg",
      keys: ["hip_flexion_r", "hip_flexion_l"], minSpan: 10, digits: 1 },
    { id: "knee", title: "Knee angle", unit: "°", group: "angles_deg",
      keys: ["knee_angle_r", "knee_angle_l"], minSpan: 10, digits: 1 },
    { id: "ankle", title: "Ankle angle", unit: "°", group: "angles_deg",
      keys: ["ankle_angle_r", "ankle_angle_l"], minSpan: 10, digits: 1 },
    { id: "hip_moment", title: "Hip moment", unit: "BW·BH", group: "moments_bwbh",
      keys: ["hip_flexion_r", "hip_flexion_l"], minSpan: 0.02, digits: 3 },
    { id: "knee_moment", title: "Knee moment", unit: "BW·BH", group: "moments_bwbh",
      keys: ["knee_angle_r", "knee_angle_l"], minSpan: 0.02, digits: 3 },
    { id: "ankle_moment", title: "Ankle moment", unit: "BW·BH", group: "moments_bwbh",
      keys: ["ankle_angle_r", "ankle_angle_l"], minSpan: 0.02, digits: 3 },
    { id: "pelvis", title: "Pelvis tilt", unit: "°", group: "angles_deg",
      keys: ["pelvis_tilt"], colors: [COLORS.trunk], minSpan: 5, digits: 1 },
    { id: "grf", title: "Vertical GRF", unit: "BW", group: "grf_bw",
      keys: ["grf_y_r", "grf_y_l"], minSpan: 0.5, digits: 2 },
    { id: "speed", title: "Speed", unit: "m/s", group: null,
      keys: ["speed_m_s"], colors: [COLORS.grf], minSpan: 0.5, digits: 2 }
  ];

  var state = {
    device: null,
    status: null,
    meta: null,
    health: null,
    bridge: null,
    frames: [],          // newest last, t strictly increasing
    latestT: null,
    playT: null,
    lastNow: null,
    lastEstimateAt: null, // performance.now() of the last estimate event (ms)
    lastDataAt: null,     // performance.now() of the last estimate or health event (ms)
    lastDataWall: null,   // Date.now() of the same (ms), for "offline since"
    offline: null,        // null, or {reason: "status"|"silent", since: Date ms, lastT}
    heightM: 1.75,
    groundOffset: 0,
    framesReceived: 0,
    eventsReceived: 0,
    droppedByBridge: 0,
    resets: 0,
    figureDraws: 0,
    gapLimitS: Infinity,  // a step between frames longer than this is a gap (s)
    drawn: {},            // per plot: [[t first, t last], ...] of the line runs drawn
    timeTicks: [],        // the time-axis labels drawn last
    plotWindow: null,     // [tStart, tEnd] of the plots drawn last (s, sample clock)
    connected: false
  };
  window.sspinnDashboard = state; // for debugging and the browser test

  function $(id) { return document.getElementById(id); }
  function isNum(v) { return typeof v === "number" && isFinite(v); }
  function fmt(v, digits, unit) {
    if (!isNum(v)) return "–";
    return v.toFixed(digits) + (unit ? " " + unit : "");
  }
  function setText(id, text) {
    var el = $(id);
    if (el && el.textContent !== text) el.textContent = text;
  }

  // ---- data ------------------------------------------------------------------------
  function addFrames(frames) {
    for (var i = 0; i < frames.length; i++) {
      var f = frames[i];
      if (!f || !isNum(f.t)) continue;
      if (state.latestT !== null && f.t < state.latestT - 0.5) {
        // the sample clock went back: a new run (next recording, restarted daemon)
        state.frames = [];
        state.latestT = null;
        state.playT = null;
        state.resets += 1;
      }
      if (state.latestT !== null && f.t <= state.latestT) continue;
      state.frames.push(f);
      state.latestT = f.t;
      state.framesReceived += 1;
    }
    var cut = 0;
    var oldest = state.latestT === null ? 0 : state.latestT - KEEP_S;
    while (cut < state.frames.length && state.frames[cut].t < oldest) cut++;
    if (cut > 0) state.frames.splice(0, cut);
  }

  function value(frame, group, key) {
    if (!frame) return null;
    var v = group ? (frame[group] ? frame[group][key] : null) : frame[key];
    return isNum(v) ? v : null;
  }

  // index of the last frame with t <= tq (or -1)
  function indexAt(tq) {
    var fr = state.frames, lo = 0, hi = fr.length - 1, ans = -1;
    while (lo <= hi) {
      var mid = (lo + hi) >> 1;
      if (fr[mid].t <= tq) { ans = mid; lo = mid + 1; } else { hi = mid - 1; }
    }
    return ans;
  }

  // the frame at time tq, angles and forces linearly interpolated; inside a gap a frame
  // without values ({gap: true}): nothing is shown that was not measured
  function sampleAt(tq) {
    var fr = state.frames;
    if (!fr.length) return null;
    var i = indexAt(tq);
    if (i < 0) return fr[0];
    if (i >= fr.length - 1) return fr[fr.length - 1];
    var a = fr[i], b = fr[i + 1], w = (tq - a.t) / (b.t - a.t);
    if (b.t - a.t > state.gapLimitS) {
      return { t: tq, gap: true, speed_m_s: null, angles_deg: {}, grf_bw: {} };
    }
    var out = { t: tq, speed_m_s: a.speed_m_s, angles_deg: {}, grf_bw: {} };
    ["angles_deg", "grf_bw"].forEach(function (g) {
      var ga = a[g] || {}, gb = b[g] || {};
      Object.keys(ga).forEach(function (k) {
        var va = ga[k], vb = gb[k];
        out[g][k] = isNum(va) && isNum(vb) ? va + (vb - va) * w : (isNum(va) ? va : null);
      });
    });
    return out;
  }

  function advancePlayback(nowS) {
    if (state.latestT === null) { state.lastNow = nowS; return; }
    var target = state.latestT - LAG_S;
    if (state.playT === null || Math.abs(state.playT - target) > 1.0) {
      state.playT = target;
    } else {
      var dt = state.lastNow === null ? 0 : Math.min(nowS - state.lastNow, 0.25);
      state.playT += dt;
      state.playT += (target - state.playT) * 0.08;   // stay near the target lag
      if (state.playT > state.latestT) state.playT = state.latestT;
    }
    state.lastNow = nowS;
  }

  // ---- canvas helpers --------------------------------------------------------------
  function fit(canvas) {
    var r = canvas.getBoundingClientRect();
    var dpr = window.devicePixelRatio || 1;
    var w = Math.max(1, Math.round(r.width * dpr)), h = Math.max(1, Math.round(r.height * dpr));
    if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
    var ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    return { ctx: ctx, w: r.width, h: r.height };
  }

  function niceStep(span) {
    var raw = span / 3, mag = Math.pow(10, Math.floor(Math.log10(raw))), n = raw / mag;
    return (n < 1.5 ? 1 : n < 3 ? 2 : n < 7 ? 5 : 10) * mag;
  }

  // ---- stick figure ----------------------------------------------------------------
  // R(theta)·(x, y): segment axes in ground (x forward, y up, counter-clockwise +).
  function rot(theta, x, y) {
    var c = Math.cos(theta), s = Math.sin(theta);
    return [c * x - s * y, s * x + c * y];
  }
  function add(p, q) { return [p[0] + q[0], p[1] + q[1]]; }

  function legPoints(H, tilt, hip, knee, ankle) {
    var thigh = tilt + hip, shank = thigh + knee, foot = shank + ankle;
    var hipP = [0, 0];
    var kneeP = add(hipP, rot(thigh, 0, -0.245 * H));
    var ankleP = add(kneeP, rot(shank, 0, -0.246 * H));
    var lf = 0.152 * H, back = 0.06 * H / 1.8;
    var heel = add(ankleP, rot(foot, -back, -0.0702));
    var toe = add(ankleP, rot(foot, lf - back - 0.05, -0.0702));
    return { hip: hipP, knee: kneeP, ankle: ankleP, heel: heel, toe: toe };
  }

  function drawFigure(frame, dtS) {
    var canvas = $("figure");
    var c = fit(canvas), ctx = c.ctx, w = c.w, h = c.h;
    ctx.clearRect(0, 0, w, h);
    var H = state.heightM;
    var legLen = (0.245 + 0.246) * H + 0.0702;
    var above = 0.28 * H + 0.13 * H;            // trunk and head above the hip
    var scale = Math.min(h * 0.88 / (above + legLen + 0.04), w * 0.92 / (1.1 * H));
    var ox = w * 0.5, oy = (h - (above + legLen) * scale) / 2 + above * scale;
    function S(p) { return [ox + p[0] * scale, oy - p[1] * scale]; }

    // ground with ticks that scroll with the gait speed
    var speed = value(frame, null, "speed_m_s");
    if (isNum(speed)) state.groundOffset = (state.groundOffset + speed * dtS) % 0.5;
    var gy = oy + legLen * scale;
    ctx.strokeStyle = COLORS.ground;
    ctx.lineWidth = 1.5;
    ctx.beginPath(); ctx.moveTo(0, gy); ctx.lineTo(w, gy); ctx.stroke();
    ctx.lineWidth = 1;
    for (var x = -state.groundOffset - 1.5; x < 1.5; x += 0.5) {
      var sx = ox + x * scale;
      ctx.beginPath(); ctx.moveTo(sx, gy); ctx.lineTo(sx - 8, gy + 8); ctx.stroke();
    }
    if (!frame || frame.gap) {
      ctx.fillStyle = COLORS.text;
      ctx.font = "14px sans-serif";
      ctx.textAlign = "center";
      ctx.fillText(frame ? "no estimates here (a gap in the data)" : "waiting for estimates…",
                   w / 2, h / 2);
      return;
    }
    var A = frame.angles_deg || {};
    var tilt = (isNum(A.pelvis_tilt) ? A.pelvis_tilt : 0) * DEG;
    if (state.offline) {
      ctx.fillStyle = "#e5484d";
      ctx.font = "14px sans-serif";
      ctx.textAlign = "center";
      ctx.fillText("device offline: the last pose received", w / 2, 20);
      ctx.globalAlpha = 0.4;
    }

    function drawLeg(side, color) {
      var hip = A["hip_flexion_" + side], knee = A["knee_angle_" + side],
          ankle = A["ankle_angle_" + side];
      if (!isNum(hip) || !isNum(knee) || !isNum(ankle)) return null;
      var p = legPoints(H, tilt, hip * DEG, knee * DEG, ankle * DEG);
      ctx.strokeStyle = color;
      ctx.fillStyle = color;
      ctx.lineWidth = Math.max(3, scale * 0.035);
      ctx.lineCap = "round";
      ctx.lineJoin = "round";
      ctx.beginPath();
      [p.hip, p.knee, p.ankle].forEach(function (q, i) {
        var s = S(q); if (i) ctx.lineTo(s[0], s[1]); else ctx.moveTo(s[0], s[1]);
      });
      ctx.stroke();
      ctx.beginPath();
      [p.ankle, p.heel, p.toe].forEach(function (q, i) {
        var s = S(q); if (i) ctx.lineTo(s[0], s[1]); else ctx.moveTo(s[0], s[1]);
      });
      ctx.closePath();
      ctx.globalAlpha = 0.55; ctx.fill(); ctx.globalAlpha = 1; ctx.stroke();
      [p.knee, p.ankle].forEach(function (q) {
        var s = S(q);
        ctx.beginPath(); ctx.arc(s[0], s[1], ctx.lineWidth * 0.9, 0, 2 * Math.PI); ctx.fill();
      });
      return p;
    }

    function drawGrf(p, side) {
      if (!p) return;
      var G = frame.grf_bw || {};
      var fy = G["grf_y_" + side], fx = G["grf_x_" + side];
      if (!isNum(fy) || fy < 0.03) return;
      fx = isNum(fx) ? fx : 0;
      var base = [(p.heel[0] + p.toe[0]) / 2, -legLen];
      var k = 0.3 * H;  // metres drawn per body weight
      var tip = [base[0] + fx * k, base[1] + fy * k];
      var a = S(base), b = S(tip);
      ctx.strokeStyle = COLORS.grf;
      ctx.fillStyle = COLORS.grf;
      ctx.lineWidth = 2.5;
      ctx.beginPath(); ctx.moveTo(a[0], a[1]); ctx.lineTo(b[0], b[1]); ctx.stroke();
      var ang = Math.atan2(b[1] - a[1], b[0] - a[0]), hl = 9;
      ctx.beginPath();
      ctx.moveTo(b[0], b[1]);
      ctx.lineTo(b[0] - hl * Math.cos(ang - 0.4), b[1] - hl * Math.sin(ang - 0.4));
      ctx.lineTo(b[0] - hl * Math.cos(ang + 0.4), b[1] - hl * Math.sin(ang + 0.4));
      ctx.closePath(); ctx.fill();
    }

    var left = drawLeg("l", COLORS.left);        // far leg first
    // trunk (head-arms-trunk) upward from the hip, and a head
    var top = rot(tilt, 0, 0.28 * H), head = rot(tilt, 0, 0.28 * H + 0.07 * H);
    var s0 = S([0, 0]), s1 = S(top), sh = S(head);
    ctx.strokeStyle = COLORS.trunk;
    ctx.fillStyle = COLORS.trunk;
    ctx.lineWidth = Math.max(4, scale * 0.05);
    ctx.lineCap = "round";
    ctx.beginPath(); ctx.moveTo(s0[0], s0[1]); ctx.lineTo(s1[0], s1[1]); ctx.stroke();
    ctx.beginPath(); ctx.arc(sh[0], sh[1], 0.055 * H * scale, 0, 2 * Math.PI); ctx.fill();
    var right = drawLeg("r", COLORS.right);      // near leg on top
    ctx.beginPath(); ctx.arc(s0[0], s0[1], ctx.lineWidth * 1.2, 0, 2 * Math.PI);
    ctx.fillStyle = COLORS.trunk; ctx.fill();
    drawGrf(left, "l");
    drawGrf(right, "r");
    ctx.globalAlpha = 1;
    state.figureDraws += 1;
  }

  // ---- scrolling plots ---------------------------------------------------------------
  function buildPlots() {
    var box = $("plots");
    PLOTS.forEach(function (p) {
      var div = document.createElement("div");
      var canvas = document.createElement("canvas");
      canvas.id = "plot-" + p.id;
      canvas.className = "plot";
      canvas.setAttribute("aria-label", p.title);
      div.appendChild(canvas);
      box.appendChild(div);
      p.canvas = canvas;
      p.lo = null;
      p.hi = null;
    });
  }

  function drawPlot(p, tEnd) {
    var c = fit(p.canvas), ctx = c.ctx, w = c.w, h = c.h;
    ctx.clearRect(0, 0, w, h);
    var L = 44, R = 8, T = 20, B = 16, pw = w - L - R, ph = h - T - B;
    var colors = p.colors || SIDES;
    var tStart = tEnd - WINDOW_S;
    var fr = state.frames, i0 = Math.max(0, indexAt(tStart)), i1 = indexAt(tEnd);

    // y range: grow at once, shrink slowly (no jumping axes)
    var lo = Infinity, hi = -Infinity, i, k, v;
    for (i = i0; i <= i1 && i >= 0; i++) {
      for (k = 0; k < p.keys.length; k++) {
        v = value(fr[i], p.group, p.keys[k]);
        if (v !== null) { if (v < lo) lo = v; if (v > hi) hi = v; }
      }
    }
    if (lo <= hi) {
      var mid = (lo + hi) / 2, half = Math.max(hi - lo, p.minSpan) / 2 * 1.1;
      lo = mid - half; hi = mid + half;
      if (p.lo === null || state.offline) { p.lo = lo; p.hi = hi; }  // offline: hold still
      p.lo = lo < p.lo ? lo : p.lo + (lo - p.lo) * 0.02;
      p.hi = hi > p.hi ? hi : p.hi + (hi - p.hi) * 0.02;
    }
    var ylo = p.lo === null ? -1 : p.lo, yhi = p.hi === null ? 1 : p.hi;
    function X(t) { return L + (t - tStart) / WINDOW_S * pw; }
    function Y(val) { return T + (yhi - val) / (yhi - ylo) * ph; }

    // grid and labels
    ctx.font = "11px sans-serif";
    ctx.lineWidth = 1;
    var step = niceStep(yhi - ylo);
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (var g = Math.ceil(ylo / step) * step; g <= yhi; g += step) {
      var gy = Math.round(Y(g)) + 0.5;
      ctx.strokeStyle = Math.abs(g) < step * 1e-6 ? COLORS.axis : COLORS.grid;
      ctx.beginPath(); ctx.moveTo(L, gy); ctx.lineTo(L + pw, gy); ctx.stroke();
      ctx.fillStyle = COLORS.text;
      ctx.fillText(+g.toFixed(4) + "", L - 4, gy);
    }
    // time axis: the device's sample clock in seconds
    var ticks = SERIES.timeTicks(tStart, tEnd, pw, 44);
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    ticks.forEach(function (tick) {
      var gx = Math.round(X(tick.t)) + 0.5;
      ctx.strokeStyle = COLORS.grid;
      ctx.beginPath(); ctx.moveTo(gx, T); ctx.lineTo(gx, T + ph); ctx.stroke();
      if (gx > L + 12 && gx < L + pw - 12) {
        ctx.fillStyle = COLORS.text;
        ctx.fillText(tick.label, gx, T + ph + 3);
      }
    });
    state.timeTicks = ticks.map(function (tick) { return tick.label; });
    state.plotWindow = [tStart, tEnd];

    ctx.save();
    ctx.beginPath(); ctx.rect(L, T, pw, ph); ctx.clip();
    // offline: the stretch after the last frame received, marked and left empty
    if (state.offline && state.latestT !== null && state.latestT < tEnd) {
      var xo = X(state.latestT);
      ctx.fillStyle = "rgba(229, 72, 77, 0.12)";
      ctx.fillRect(xo, T, L + pw - xo, ph);
      ctx.strokeStyle = "rgba(229, 72, 77, 0.8)";
      ctx.setLineDash([4, 3]);
      ctx.beginPath(); ctx.moveTo(Math.round(xo) + 0.5, T); ctx.lineTo(Math.round(xo) + 0.5, T + ph);
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.fillStyle = "#e5484d";
      ctx.textAlign = "left";
      ctx.textBaseline = "top";
      ctx.fillText("offline", xo + 4, T + 2);
    }
    // gaps: shaded, never bridged by a line
    var last = Math.min(i1 + 1, fr.length - 1);
    SERIES.gaps(fr, i0, last, state.gapLimitS).forEach(function (g) {
      ctx.fillStyle = "rgba(140, 150, 160, 0.10)";
      ctx.fillRect(X(g[0]), T, X(g[1]) - X(g[0]), ph);
    });
    // lines: one run per stretch of consecutive frames
    ctx.lineWidth = 1.8;
    ctx.lineJoin = "round";
    ctx.lineCap = "round";
    for (k = 0; k < p.keys.length; k++) {
      ctx.strokeStyle = colors[k];
      var key = p.keys[k];
      var pieces = SERIES.runs(fr, i0, i1, function (f) { return value(f, p.group, key); },
                               state.gapLimitS);
      ctx.beginPath();
      pieces.forEach(function (run) {
        var x0 = X(fr[run[0]].t), y0 = Y(value(fr[run[0]], p.group, key));
        ctx.moveTo(x0, y0);
        if (run[0] === run[1]) ctx.lineTo(x0 + 0.5, y0);  // a lone frame: a dot
        for (var j = run[0] + 1; j <= run[1]; j++) {
          ctx.lineTo(X(fr[j].t), Y(value(fr[j], p.group, key)));
        }
      });
      ctx.stroke();
      if (k === 0) {
        state.drawn[p.id] = pieces.map(function (run) { return [fr[run[0]].t, fr[run[1]].t]; });
      }
    }
    ctx.restore();

    // title and current values
    ctx.textBaseline = "alphabetic";
    ctx.textAlign = "left";
    ctx.fillStyle = "#e6e9ec";
    ctx.font = "12px sans-serif";
    var cur = i1 >= 0 ? fr[i1] : null, labels = [], used = 0;
    for (k = 0; k < p.keys.length; k++) {
      labels.push((p.keys.length > 1 ? (k === 0 ? "R " : "L ") : "") +
                  fmt(value(cur, p.group, p.keys[k]), p.digits));
      used += ctx.measureText(labels[k]).width + 10;
    }
    var title = p.title + " (" + p.unit + ")";
    if (ctx.measureText(title).width + used > w - 12) title = p.title;
    ctx.fillText(title, 8, 14);
    ctx.textAlign = "right";
    var xr = w - R;
    for (k = p.keys.length - 1; k >= 0; k--) {
      ctx.fillStyle = colors[k];
      ctx.fillText(labels[k], xr, 14);
      xr -= ctx.measureText(labels[k]).width + 10;
    }
  }

  // ---- header ------------------------------------------------------------------------
  function showStatus() {
    var el = $("status"), s = state.status || "unknown";
    if (s === "online" && state.offline) s = "not responding";
    el.textContent = s;
    el.className = "pill " + (s === "online" ? "online" : s === "unknown" ? "unknown" : "offline");
    var b = $("bridge");
    b.className = state.bridge && state.bridge.mqtt_connected === false ? "pill" : "pill hidden";
    showOffline();
  }

  function clock(ms) {
    var d = new Date(ms);
    return [d.getHours(), d.getMinutes(), d.getSeconds()].map(function (n) {
      return (n < 10 ? "0" : "") + n;
    }).join(":");
  }

  function duration(s) {
    if (s < 60) return Math.floor(s) + " s";
    if (s < 3600) return Math.floor(s / 60) + " min " + Math.floor(s % 60) + " s";
    return Math.floor(s / 3600) + " h " + Math.floor(s % 3600 / 60) + " min";
  }

  // The device is offline when its status says so, or when neither estimates nor health
  // have come for SILENT_PERIODS health periods (a stall before the broker's last will).
  function updateOffline() {
    var silentS = SILENT_PERIODS * ((state.meta && isNum(state.meta.health_interval_s))
      ? state.meta.health_interval_s : 5);
    var quiet = state.lastDataAt === null ? Infinity
      : (performance.now() - state.lastDataAt) / 1000;
    var reason = state.status === "offline" ? "status"
      : (state.status === "online" && state.lastDataAt !== null && quiet > silentS
        ? "silent" : null);
    if (!reason) {
      if (state.offline) { state.offline = null; showStatus(); }
      return;
    }
    if (!state.offline || state.offline.reason !== reason) {
      // since: the last message from the device (null: none since the page opened)
      state.offline = { reason: reason, since: state.lastDataWall, lastT: state.latestT };
      showStatus();
    }
  }

  function showOffline() {
    var el = $("offline"), o = state.offline;
    if (!o) { el.className = "banner hidden"; return; }
    var text = o.reason === "status" ? "Device offline" : "Device not responding";
    text += o.since === null ? " (since before this page opened)"
      : " since " + clock(o.since) + " (" + duration((Date.now() - o.since) / 1000) + ")";
    if (o.reason === "silent") text += ": no estimates and no health since then";
    text += state.latestT === null ? "; no data received."
      : ". The plots show the last data received (up to t = " + state.latestT.toFixed(1) +
        " s of its clock); nothing is drawn after it.";
    el.className = "banner";
    setText("offline", text);
  }

  function showMeta() {
    var m = state.meta || {};
    setText("device", state.device + (m.device_name ? " · " + m.device_name : ""));
    var model = m.model;
    setText("model", model && model.id ? model.id + (model.version ? " v" + model.version : "")
                                       : "–");
    var rate = isNum(m.sample_rate_hz) ? m.sample_rate_hz.toFixed(0) + " Hz" : "–";
    if (isNum(m.publish_rate_hz)) rate += " → " + m.publish_rate_hz.toFixed(0) + "/s";
    setText("rate", rate);
    var height = m.height_m;
    if (!isNum(height) && m.participant) height = m.participant.height_m;
    if (!isNum(height) && m.body) height = m.body.height_m;
    if (isNum(height) && height > 0.5 && height < 2.5) state.heightM = height;
  }

  function showHealth() {
    var hh = state.health || {};
    var loop = fmt(hh.loop_rate_hz, 1, "Hz");
    if (isNum(hh.overruns) && hh.overruns > 0) loop += " (" + hh.overruns + " overruns)";
    setText("loop", loop);
    setText("latency", fmt(hh.latency_ms_p50, 2) + " / " + fmt(hh.latency_ms_p99, 2, "ms"));
    setText("sensors", isNum(hh.sensors_ok)
      ? hh.sensors_ok + (isNum(hh.sensors_total) ? " / " + hh.sensors_total : "") : "–");
    setText("cputemp", fmt(hh.cpu_temp_c, 1, "°C"));
  }

  function showAge() {
    updateOffline();
    showOffline();
    var el = $("age");
    if (state.lastEstimateAt === null) { setText("age", "no data yet"); return; }
    var age = (performance.now() - state.lastEstimateAt) / 1000;
    setText("age", age < 1 ? "live" : age.toFixed(age < 10 ? 1 : 0) + " s ago");
    el.className = age > STALE_S ? "stale" : "";
  }

  // ---- event stream ------------------------------------------------------------------
  function parse(ev) {
    try { return JSON.parse(ev.data); } catch (e) { return undefined; }
  }

  function sawData() {
    state.lastDataAt = performance.now();
    state.lastDataWall = Date.now();
    if (state.offline && state.offline.reason === "silent") updateOffline();
  }

  function connect(device) {
    state.device = device;
    setText("device", device);
    document.title = "SSPINNpose live · " + device;
    $("state-link").href = "api/state?device=" + encodeURIComponent(device);
    var es = new EventSource("events?device=" + encodeURIComponent(device));
    function on(name, fn) {
      es.addEventListener(name, function (ev) {
        var data = parse(ev);
        if (data === undefined) return;
        state.eventsReceived += 1;
        fn(data);
      });
    }
    on("hello", function () { state.connected = true; setText("message", "connected"); });
    on("bridge", function (d) { state.bridge = d; showStatus(); });
    on("status", function (d) { state.status = d; updateOffline(); showStatus(); });
    on("meta", function (d) { state.meta = d; showMeta(); });
    on("health", function (d) { state.health = d; sawData(); showHealth(); });
    on("estimate", function (d) {
      if (!d || !Array.isArray(d.frames)) return;
      state.droppedByBridge += d.dropped || 0;
      addFrames(d.frames);
      state.lastEstimateAt = performance.now();
      sawData();
    });
    es.onerror = function () {
      state.connected = false;
      setText("message", "connection to the dashboard server lost; retrying…");
    };
  }

  function chooseDevice() {
    var params = new URLSearchParams(window.location.search);
    var device = params.get("device");
    if (device) { connect(device); return; }
    fetch("api/state").then(function (r) { return r.json(); }).then(function (s) {
      var seen = s.devices_seen || {};
      var ids = Object.keys(seen);
      var online = ids.filter(function (k) { return seen[k] === "online"; });
      var pick = s.default_device || online[0] || ids[0];
      if (pick) { connect(pick); return; }
      setText("message", "no device seen yet (add ?device=<id> to the URL); retrying…");
      setTimeout(chooseDevice, 2000);
    }).catch(function () {
      setText("message", "cannot reach the dashboard server; retrying…");
      setTimeout(chooseDevice, 2000);
    });
  }

  // ---- render loop -------------------------------------------------------------------
  var lastFrameS = null;
  function render(nowMs) {
    var nowS = nowMs / 1000;
    var dt = lastFrameS === null ? 0 : Math.min(nowS - lastFrameS, 0.25);
    lastFrameS = nowS;
    state.gapLimitS = SERIES.gapLimit(state.frames, state.meta ? state.meta.publish_rate_hz : null);
    advancePlayback(nowS);
    var frame = state.playT === null ? null : sampleAt(state.playT);
    drawFigure(frame, dt);
    setText("speed", frame ? fmt(value(frame, null, "speed_m_s"), 2) : "–");
    var tEnd = state.playT === null ? WINDOW_S : state.playT;
    if (state.offline && state.latestT !== null) tEnd = state.latestT + OFFLINE_TAIL_S;
    PLOTS.forEach(function (p) { drawPlot(p, tEnd); });
    window.requestAnimationFrame(render);
  }

  buildPlots();
  showStatus();
  setInterval(showAge, 200);
  chooseDevice();
  window.requestAnimationFrame(render);
})();
