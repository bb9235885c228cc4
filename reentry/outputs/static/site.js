/* The evaluators' site: filters, language switch and charts, all in the browser.
 *
 * Each page loads plotly.min.js (bundled once), messages.js (REENTRY_MESSAGES, one per language),
 * its data file (REENTRY_PAGE: chart specs and the protected tables) and this file. The state
 * (language, programme, cohort, one break-down, chart controls) lives in the URL's hash, so it
 * survives the language switch, page changes and bookmarks. Nothing is fetched.
 */
(function () {
  "use strict";

  var PAGE = window.REENTRY_PAGE;
  PAGE.tables = window.REENTRY_TABLES || {};
  var SITE = window.REENTRY_SITE;
  var MESSAGES = window.REENTRY_MESSAGES;
  var LANGUAGES = Object.keys(MESSAGES);
  var BREAKDOWNS = SITE.breakdown_dims;
  var FILTERS = ["cohort"].concat(BREAKDOWNS);
  // Okabe-Ito: distinguishable with every common colour-vision deficiency, and in greyscale
  // together with the marker symbols and dashes below.
  var PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000",
                 "#F0E442"];
  var SYMBOLS = ["circle", "diamond", "square", "triangle-up", "cross", "x", "star", "hexagon"];
  var DASHES = ["solid", "dash", "dot", "dashdot", "longdash", "longdashdot"];
  var missing = {};

  // ---------------------------------------------------------------- messages
  function t(key, values) {
    var table = MESSAGES[state.lang] || MESSAGES.en;
    var text = table[key];
    if (text === undefined) {
      if (!missing[key]) {
        missing[key] = true;
        console.error("reentry: no message for " + key + " in " + state.lang);
      }
      return "\u27e6" + key + "\u27e7";
    }
    return text.replace(/\{(\w+)\}/g, function (_, name) {
      return values && values[name] !== undefined ? values[name] : "{" + name + "}";
    });
  }

  // Labels of codes: a message where the code has one, organisation names for sources.
  function label(dim, value) {
    if (value === "all") return t("filter.all");
    if (dim === "prison_id" || dim === "partner_id" || dim === "source_id") {
      return SITE.names[value] || value;
    }
    if (dim === "cohort") return value;
    // A rare level counted with its neighbour is named beside the level it joined.
    var folded = ((SITE.folded || {})[state.programme] || {})[dim] || {};
    if (folded[value]) {
      return t(dim + "." + value) + " " + t("filter.with", {levels: folded[value].map(
        function (level) { return t(dim + "." + level); }).join(", ")});
    }
    return t(dim + "." + value);
  }

  function number(value, digits, fixed) {
    if (value === null || value === undefined) return t("chart.suppressed");
    return Number(value).toLocaleString(locale(), {maximumFractionDigits: digits || 0,
                                                   minimumFractionDigits: fixed ? digits : 0});
  }

  // Every percentage label with one decimal, so "41.0 %" stands beside "35.9 %".
  function percent(value) {
    if (value === null || value === undefined) return t("chart.suppressed");
    return Number(value).toLocaleString(locale(), {style: "percent", maximumFractionDigits: 1,
                                                   minimumFractionDigits: 1});
  }

  function locale() {
    return {de: "de-DE", nl: "nl-NL", en: "en-GB"}[state.lang];
  }

  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                "Dec"];

  // A date (and time) of the data in the language's form: 31.12.2009, 31-12-2009,
  // 31 Dec 2009. Written out here rather than left to the browser's locale data.
  function formatDate(iso) {
    var m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2}))?/.exec(String(iso || ""));
    if (!m) return iso === null || iso === undefined ? "" : String(iso);
    var date = state.lang === "de" ? m[3] + "." + m[2] + "." + m[1] :
      state.lang === "nl" ? m[3] + "-" + m[2] + "-" + m[1] :
      Number(m[3]) + " " + MONTHS[Number(m[2]) - 1] + " " + m[1];
    return m[4] ? date + ", " + m[4] + ":" + m[5] : date;
  }

  // The width of the chart being drawn (set before each renderer runs): long labels and
  // titles wrap to it.
  var plotWidth = 600;

  function labelWidth() { return Math.max(22, Math.round(plotWidth / 28)); }

  function titleWidth() { return Math.max(28, Math.round(plotWidth / 15)); }

  // Long labels broken into lines of about `width` characters (Plotly's <br>) at spaces; a
  // single long word stays whole.
  function wrap(text, width) {
    width = width || 28;
    var words = String(text).split(/ /);
    var lines = [];
    var line = "";
    words.forEach(function (word) {
      if (line && (line + " " + word).length > width) {
        lines.push(line);
        line = word;
      } else {
        line = line ? line + " " + word : word;
      }
    });
    if (line) lines.push(line);
    return lines.join("<br>");
  }

  // ---------------------------------------------------------------- state
  var state = readState();

  function readState() {
    var s = {lang: "en", programme: SITE.programmes[0]};
    FILTERS.forEach(function (f) { s[f] = "all"; });
    var hash = window.location.hash.replace(/^#/, "");
    hash.split("&").forEach(function (pair) {
      var kv = pair.split("=");
      if (kv.length === 2) s[decodeURIComponent(kv[0])] = decodeURIComponent(kv[1]);
    });
    if (LANGUAGES.indexOf(s.lang) < 0) s.lang = "en";
    if (SITE.programmes.indexOf(s.programme) < 0) s.programme = SITE.programmes[0];
    return s;
  }

  function writeState() {
    var parts = Object.keys(state).sort().map(function (k) {
      return encodeURIComponent(k) + "=" + encodeURIComponent(state[k]);
    });
    var hash = "#" + parts.join("&");
    if (window.location.hash !== hash) history.replaceState(null, "", hash);
    document.querySelectorAll("a[data-page]").forEach(function (a) {
      a.setAttribute("href", a.getAttribute("data-page") + hash);
    });
  }

  // ---------------------------------------------------------------- tables
  function rowsOf(name) {
    var table = PAGE.tables[name];
    if (!table.objects) {
      table.objects = table.rows.map(function (row) {
        var o = {};
        table.columns.forEach(function (c, i) { o[c] = row[i]; });
        return o;
      });
    }
    return table.objects;
  }

  function hasColumn(name, column) {
    return PAGE.tables[name].columns.indexOf(column) >= 0;
  }

  // The rows of a chart for the current filters. `free` dimensions are the chart's own axis
  // (not filtered); `alias` maps a filter onto a column of another name (source_id). Notes
  // say where a filter could not be applied.
  function select(spec) {
    var name = spec.table;
    var rows = rowsOf(name);
    var notes = [];
    var notBy = [];
    if (hasColumn(name, "programme") && !spec.all_programmes) {
      rows = rows.filter(function (r) { return r.programme === state.programme; });
    }
    var alias = spec.alias || {};
    var applied = {};
    FILTERS.forEach(function (dim) {
      var column = alias[dim] || dim;
      var want = state[dim];
      if ((spec.free || []).indexOf(column) >= 0) return;
      if (spec.headline && spec.headline[column] !== undefined) {
        // A headline is for one value (the whole period): other choices do not apply.
        if (want !== spec.headline[column]) notBy.push(t("filter." + dim));
        rows = rows.filter(function (r) { return r[column] === spec.headline[column]; });
        applied[column] = true;
        return;
      }
      if (!hasColumn(name, column)) {
        if (want !== "all") notBy.push(t("filter." + dim));
        return;
      }
      if (applied[column] && want === "all") return;
      var present = rows.some(function (r) { return r[column] === want; });
      if (want !== "all" && !present && dim === "cohort" && want.indexOf("Q") > 0 &&
          rows.some(function (r) { return r.cohort === want.slice(0, 4); })) {
        notes.push(t("note.year_for_quarter", {year: want.slice(0, 4)}));
        want = want.slice(0, 4);
      } else if (want !== "all" && !present) {
        notBy.push(t("filter." + dim));
        want = "all";
      }
      applied[column] = true;
      rows = rows.filter(function (r) { return r[column] === want; });
    });
    if (notBy.length) notes.push(t("note.not_by", {dims: notBy.join(", ")}));
    if (spec.control && spec.control.column) {
      var chosen = control(spec);
      rows = rows.filter(function (r) { return String(r[spec.control.column]) === chosen; });
    }
    return {rows: rows, notes: notes};
  }

  function control(spec) {
    return spec.control ? (state[spec.control.param] || spec.control.options[0]) : null;
  }

  // ---------------------------------------------------------------- figures
  function baseLayout(extra) {
    var layout = {
      font: {family: "system-ui, -apple-system, 'Segoe UI', sans-serif", size: 13,
             color: "#1a1a1a"},
      paper_bgcolor: "#ffffff",
      plot_bgcolor: "#ffffff",
      margin: {l: 60, r: 20, t: 40, b: 60},
      legend: {orientation: "h", x: 0, y: 1.02, yanchor: "bottom", traceorder: "normal"},
      hoverlabel: {namelength: -1},
      // A bar label that would have to shrink below 9 px is left out (the hover still has it).
      uniformtext: {mode: "hide", minsize: 9},
      separators: state.lang === "en" ? ".," : ",."
    };
    Object.keys(extra || {}).forEach(function (k) { layout[k] = extra[k]; });
    return layout;
  }

  function present(v) { return v !== null && v !== undefined && isFinite(v); }

  function maxOf(values) {
    return values.filter(present).reduce(function (m, v) {
      return m === null || v > m ? v : m; }, null);
  }

  function minOf(values) {
    return values.filter(present).reduce(function (m, v) {
      return m === null || v < m ? v : m; }, null);
  }

  // Axes never invent a range: a share axis runs from 0 to the data (intervals included) and
  // never past 100 %, a count axis from 0 to the data's maximum. A chart without data gets no
  // axis at all but says why (`empty`).
  function shareAxis(title, values) {
    var top = maxOf(values || []);
    var end = top === null ? 1 : Math.min(1, Math.max(top * 1.06, 0.02));
    return {title: {text: title || t("chart.share")}, tickformat: end < 0.1 ? ".1%" : ".0%",
            range: [0, end], gridcolor: "#dddddd", zeroline: false, automargin: true};
  }

  function countAxis(title, values) {
    var top = maxOf(values || []);
    return {title: {text: title || t("chart.count")}, tickformat: ",~r",
            range: [0, top === null || top <= 0 ? 1 : top * 1.04], gridcolor: "#dddddd",
            zeroline: false, automargin: true};
  }

  // A signed axis (differences) over the data and its intervals, with 0 always on it.
  function signedRange(values) {
    var lo = Math.min(0, minOf(values) || 0);
    var hi = Math.max(0, maxOf(values) || 0);
    var pad = (hi - lo || 0.01) * 0.05;
    return [lo - pad, hi + pad];
  }

  function errorBars(rows, value, low, high) {
    return {
      type: "data", symmetric: false, color: "#555555", thickness: 1.2, width: 4,
      array: rows.map(function (r) {
        return r[high] === null || r[value] === null ? null : r[high] - r[value]; }),
      arrayminus: rows.map(function (r) {
        return r[low] === null || r[value] === null ? null : r[value] - r[low]; })
    };
  }

  var HATCH = {shape: "/", fgcolor: "#9a9a9a", bgcolor: "#f3f3f3", size: 7, solidity: 0.22};
  var SUPPRESSED = "suppressed";

  // Suppressed cells drawn as what they are: light hatched bars across the whole value axis
  // (span), labelled "suppressed (< 10)" and explained on hover; never a missing bar that
  // reads as zero. `what` names each placeholder where a category holds several values (in
  // the hover, and in the label unless `short`); an `offsetgroup` puts it in the slot of the
  // series it stands for, `colour` hatches it in that series' colour.
  function placeholders(names, span, opts) {
    opts = opts || {};
    var vertical = !!opts.vertical;
    var what = names.map(function (_, i) {
      return opts.what === undefined ? "" :
        Array.isArray(opts.what) ? opts.what[i] : opts.what; });
    var lengths = names.map(function () { return span[1] - span[0]; });
    var labels = names.map(function (_, i) {
      return opts.labels ? opts.labels[i] : t("chart.suppressed_label"); });
    var reasons = names.map(function (_, i) {
      return opts.reasons ? opts.reasons[i] : t("chart.suppressed_why"); });
    var trace = {
      type: "bar", orientation: vertical ? "v" : "h",
      name: opts.name || t("chart.suppressed_label"),
      meta: SUPPRESSED, legendgroup: opts.name || SUPPRESSED, showlegend: !!opts.legend,
      base: names.map(function () { return span[0]; }),
      marker: {color: "#f3f3f3", line: {color: opts.colour || "#b5b5b5", width: 0.6},
               pattern: opts.colour ? Object.assign({}, HATCH, {fgcolor: opts.colour}) : HATCH},
      text: what.map(function (w, i) {
        return (w && !opts.short ? w + ": " : "") + labels[i]; }),
      textposition: "inside", insidetextanchor: "middle", constraintext: "inside",
      textangle: vertical ? -90 : 0, textfont: {size: opts.fontSize || 11, color: "#333333"},
      customdata: what.map(function (w, i) { return (w ? w + ": " : "") + reasons[i]; }),
      hovertemplate: "%{" + (vertical ? "x" : "y") + "}<br>%{customdata}<extra></extra>"
    };
    trace[vertical ? "x" : "y"] = names;
    trace[vertical ? "y" : "x"] = lengths;
    if (opts.width) trace.width = opts.width;
    if (opts.offsetgroup) trace.offsetgroup = opts.offsetgroup;
    if (opts.alignmentgroup) trace.alignmentgroup = opts.alignmentgroup;
    return trace;
  }

  // The legend's key for coloured placeholders: neutral, drawn by an empty trace in the slot
  // of the first one (so it takes no slot of its own).
  function placeholderKey(opts) {
    return {type: "bar", orientation: opts.vertical ? "v" : "h", x: [null], y: [null],
            name: opts.name || t("chart.suppressed_label"), meta: SUPPRESSED,
            legendgroup: opts.name || SUPPRESSED, showlegend: true, hoverinfo: "skip",
            offsetgroup: opts.offsetgroup,
            alignmentgroup: opts.alignmentgroup,
            marker: {color: "#f3f3f3", pattern: HATCH, line: {color: "#b5b5b5", width: 0.6}}};
  }

  function addPlaceholders(data, names, span, opts) {
    var own = Object.assign({}, opts, {legend: opts.legend && !opts.colour});
    data.push(placeholders(names, span, own));
    if (opts.legend && opts.colour) data.push(placeholderKey(opts));
  }

  // Whether a trace draws data (placeholders and helper traces do not count).
  function drawsData(trace) {
    if (trace.meta || trace.visible === false) return false;
    var x = trace.x || [];
    var y = trace.y || [];
    return x.some(function (v, i) {
      return v !== null && v !== undefined && y[i] !== null && y[i] !== undefined; });
  }

  function suppressedNote(rows, column, name) {
    var hidden = rows.filter(function (r) { return r[column] === null; }).map(name);
    return hidden.length ? t("chart.suppressed_list", {items: hidden.join(", ")}) : null;
  }

  // Why a chart shows nothing: rows whose values are all suppressed, or no rows at all.
  function nothingShown(rows) {
    return rows.length ? "chart.all_suppressed" : "site.no_rows";
  }

  // The height of a category row: enough for its label's lines.
  function rowHeight(cats, least) {
    var lines = cats.reduce(function (m, c) {
      return Math.max(m, String(c).split("<br>").length); }, 1);
    return Math.max(least, 17 * lines + 12);
  }

  function categoryAxis(cats, extra) {
    var axis = {type: "category", categoryorder: "array", categoryarray: cats,
                range: [cats.length - 0.5, -0.5], automargin: true, ticklabelstandoff: 6};
    Object.keys(extra || {}).forEach(function (k) { axis[k] = extra[k]; });
    return axis;
  }

  function indicatorKind(code) {
    var row = (PAGE.tables.indicators ? rowsOf("indicators") : []).find(function (r) {
      return r.indicator === code; });
    return row ? row.kind : "share";
  }

  function isShare(kind) { return kind === "share" || kind === "km"; }

  function releasesN(rows) {
    var total = rows.find(function (r) { return r.indicator === "releases"; });
    return total ? total.numerator : undefined;
  }

  // Headline shares of the selection, each with its interval and its value written beside it.
  function headline(spec, sel) {
    var rows = spec.indicators.map(function (code) {
      return sel.rows.find(function (r) { return r.indicator === code; });
    }).filter(Boolean);
    var shown = rows.filter(function (r) { return r.value !== null; });
    var hidden = rows.filter(function (r) { return r.value === null; });
    var names = function (r) { return wrap(t("indicator." + r.indicator), 30); };
    if (!shown.length) return withN(empty(nothingShown(rows)), releasesN(sel.rows));
    var axis = shareAxis(null, shown.map(function (r) {
      return r.ci_high !== null ? r.ci_high : r.value; }));
    var data = [{
      type: "scatter", mode: "markers+text", orientation: "h",
      x: shown.map(function (r) { return r.value; }), y: shown.map(names),
      text: shown.map(function (r) { return percent(r.value); }), textposition: "top center",
      textfont: {size: 12}, cliponaxis: false,
      error_x: errorBars(shown, "value", "ci_low", "ci_high"),
      marker: {color: PALETTE[0], size: 10}, name: t("chart.value"),
      hovertemplate: "%{y}: %{x:.1%}<extra></extra>"
    }];
    if (hidden.length) data.push(placeholders(hidden.map(names), axis.range));
    return {
      data: data,
      layout: baseLayout({xaxis: axis, yaxis: categoryAxis(rows.map(names)), bargap: 0.35,
                          margin: {l: 20, r: 24, t: 24, b: 50}, showlegend: false,
                          height: 90 + 46 * rows.length}),
      n: releasesN(sel.rows),
      notes: [suppressedNote(rows, "value", function (r) { return t("indicator." + r.indicator); })]
    };
  }

  // Shares per release year; a year with a suppressed share is a hatched band, not a gap.
  function trend(spec, sel) {
    var years = SITE.years;
    var highs = [];
    var hidden = {};
    var data = spec.indicators.map(function (code, i) {
      var rows = years.map(function (y) {
        return sel.rows.find(function (r) { return r.indicator === code && r.cohort === y; }) ||
          {value: null, ci_low: null, ci_high: null, missing: true};
      });
      rows.forEach(function (r, j) {
        highs.push(r.ci_high !== null ? r.ci_high : r.value);
        if (r.value === null && !r.missing) {
          (hidden[years[j]] = hidden[years[j]] || []).push(t("indicator." + code));
        }
      });
      return {
        type: "scatter", mode: "lines+markers", name: t("indicator." + code), x: years,
        y: rows.map(function (r) { return r.value; }),
        error_y: errorBars(rows, "value", "ci_low", "ci_high"),
        line: {color: PALETTE[i], dash: DASHES[i % DASHES.length]},
        marker: {symbol: SYMBOLS[i], size: 8}, connectgaps: false,
        hovertemplate: "%{x}: %{y:.1%}<extra>" + t("indicator." + code) + "</extra>"
      };
    });
    var total = sel.rows.filter(function (r) {
      return r.indicator === "releases" && years.indexOf(r.cohort) >= 0;
    });
    var n = total.some(function (r) { return r.numerator === null; }) ? null :
      total.reduce(function (a, r) { return a + r.numerator; }, 0);
    var axis = shareAxis(null, highs);
    var gone = Object.keys(hidden).sort();
    if (gone.length) {
      // One band per year; the hover names what of it is suppressed.
      var band = placeholders(gone, axis.range, {vertical: true, legend: true});
      band.customdata = gone.map(function (y) {
        return hidden[y].join(", ") + ": " + t("chart.suppressed_why"); });
      data.unshift(band);
    }
    return {data: data,
            layout: baseLayout({yaxis: axis, bargap: 0.55, height: 420,
                                xaxis: {type: "category", categoryorder: "array",
                                        categoryarray: years}}),
            n: n,
            notes: [gone.length ? t("chart.suppressed_list", {items: gone.map(function (y) {
              return y + " (" + hidden[y].join(", ") + ")"; }).join("; ")}) : null]};
  }

  function employment(spec, sel) {
    var rows = sel.rows.slice().sort(function (a, b) { return a.day - b.day; });
    var shown = rows.filter(function (r) { return r.share !== null; });
    var hidden = rows.filter(function (r) { return r.share === null; });
    var first = rows[0];
    if (!shown.length) {
      return withN(empty(nothingShown(rows)), first ? first.n_observed : undefined);
    }
    var axis = shareAxis(null, shown.map(function (r) {
      return r.ci_high !== null ? r.ci_high : r.share; }));
    var data = [{
      type: "scatter", mode: "lines+markers", x: shown.map(function (r) { return r.day; }),
      y: shown.map(function (r) { return r.share; }),
      error_y: errorBars(shown, "share", "ci_low", "ci_high"),
      line: {color: PALETTE[2]}, marker: {size: 9}, name: t("chart.share"),
      hovertemplate: "%{x}: %{y:.1%}<extra></extra>"
    }];
    if (hidden.length) {
      data.unshift(placeholders(hidden.map(function (r) { return r.day; }), axis.range,
                                {vertical: true, width: 26}));
    }
    return {
      data: data,
      layout: baseLayout({yaxis: axis, showlegend: false, height: 340,
                          xaxis: {title: {text: t("chart.days")}, tickvals: SITE.in_work_days,
                                  range: [0, 385], zeroline: false}}),
      n: first ? first.n_observed : undefined,
      notes: [suppressedNote(rows, "share", function (r) { return String(r.day); })]
    };
  }

  var STAGES = SITE.funnel_stages;

  // The funnel of persons as bars, each with its count and its share of those referred.
  function funnel(spec, sel) {
    var row = sel.rows[0];
    if (!row) return empty();
    var names = STAGES.map(function (s) { return t("stage." + s); });
    var shown = STAGES.filter(function (s) { return row[s] !== null; });
    var hidden = STAGES.filter(function (s) { return row[s] === null; });
    var top = maxOf(shown.map(function (s) { return row[s]; }));
    if (top === null) return withN(empty("chart.all_suppressed"), row.n_referred);
    // Room for the labels beside the bars.
    var axis = countAxis(t("chart.persons"), [top * 1.3]);
    var data = [{
      type: "bar", orientation: "h", name: t("chart.persons"), offsetgroup: "stages",
      y: shown.map(function (s) { return t("stage." + s); }),
      x: shown.map(function (s) { return row[s]; }),
      text: shown.map(function (s) {
        return s === "n_referred" || !row.n_referred ? number(row[s]) :
          number(row[s]) + " (" + percent(row[s] / row.n_referred) + ")"; }),
      textposition: "outside", cliponaxis: false, textfont: {size: 12},
      marker: {color: shown.map(function (s) { return PALETTE[STAGES.indexOf(s)]; })},
      hovertemplate: "%{y}: %{text}<extra></extra>"
    }];
    if (hidden.length) {
      data.push(placeholders(hidden.map(function (s) { return t("stage." + s); }), axis.range,
                             {offsetgroup: "stages"}));
    }
    return {
      data: data,
      layout: baseLayout({xaxis: axis, yaxis: categoryAxis(names), bargap: 0.25,
                          margin: {l: 20, r: 20, t: 10, b: 50}, showlegend: false,
                          height: 330}),
      n: row.n_referred,
      notes: [suppressedNote(STAGES.map(function (s) { return {s: s, v: row[s]}; }), "v",
                             function (o) { return t("stage." + o.s); })]
    };
  }

  function funnelPartners(spec, sel) {
    var rows = sel.rows.filter(function (r) { return r.partner_id !== "all"; });
    var total = sel.rows.find(function (r) { return r.partner_id === "all"; });
    var size = function (r) { return r.n_referred === null ? -1 : r.n_referred; };
    rows.sort(function (a, b) { return size(b) - size(a); });
    var names = rows.map(function (r) {
      var name = wrap(label("partner_id", r.partner_id), 24);
      return r.partner_id === state.partner_id ? "<b>" + name + "</b>" : name;
    });
    var values = [];
    rows.forEach(function (r) { STAGES.forEach(function (s) { values.push(r[s]); }); });
    if (maxOf(values) === null) {
      return withN(empty(nothingShown(rows)), total ? total.n_referred : undefined);
    }
    var axis = countAxis(t("chart.persons"), values);
    var data = [];
    var legend = true;
    STAGES.forEach(function (s, i) {
      data.push({type: "bar", orientation: "h", name: t("stage." + s), y: names,
                 x: rows.map(function (r) { return r[s]; }), marker: {color: PALETTE[i]},
                 offsetgroup: s, alignmentgroup: "stages",
                 hovertemplate: "%{y}: %{x}<extra>" + t("stage." + s) + "</extra>"});
    });
    STAGES.forEach(function (s) {
      var gone = names.filter(function (_, j) { return rows[j][s] === null; });
      if (!gone.length) return;
      addPlaceholders(data, gone, axis.range, {offsetgroup: s, alignmentgroup: "stages",
                                                what: t("stage." + s), legend: legend,
                                                colour: PALETTE[STAGES.indexOf(s)],
                                                short: true, fontSize: 10});
      legend = false;
    });
    return {data: data,
            layout: baseLayout({barmode: "group", bargap: 0.16,
                                height: 150 + 100 * Math.max(rows.length, 1),
                                yaxis: categoryAxis(names), xaxis: axis,
                                margin: {l: 20, r: 20, t: 10, b: 50}}),
            n: total ? total.n_referred : undefined,
            notes: [suppressedNote(rows, "n_referred", function (r) {
              return label("partner_id", r.partner_id); })]};
  }

  // Kaplan-Meier curves as steps with their bands, one per series, and below them the table
  // of the numbers at risk (its own axis, so no line can run out of the chart).
  function curves(spec, sel) {
    var series = spec.series ? spec.series : [{key: null, value: null}];
    var data = [];
    var atRisk = [];
    var n = 0;
    var lastDay = 0;
    series.forEach(function (s, i) {
      var rows = sel.rows.filter(function (r) { return !s.key || r[s.key] === s.value; });
      rows.sort(function (a, b) { return a.day - b.day; });
      if (!rows.length) return;
      var name = s.label ? t(s.label) : t("chart.value");
      var x = rows.map(function (r) { return r.day; });
      lastDay = Math.max(lastDay, x[x.length - 1]);
      var colour = PALETTE[i];
      data.push({type: "scatter", mode: "lines", x: x, y: rows.map(function (r) {
        return r.ci_high; }), line: {width: 0, shape: "hv"}, showlegend: false,
        hoverinfo: "skip"});
      data.push({type: "scatter", mode: "lines", x: x, y: rows.map(function (r) {
        return r.ci_low; }), line: {width: 0, shape: "hv"}, fill: "tonexty",
        fillcolor: hexAlpha(colour, 0.18), showlegend: false, hoverinfo: "skip"});
      data.push({type: "scatter", mode: "lines", name: name, x: x, cliponaxis: false,
                 y: rows.map(function (r) { return r.survival; }),
                 line: {color: colour, shape: "hv", width: 2.2, dash: DASHES[i]},
                 hovertemplate: "%{x}: %{y:.1%}<extra>" + name + "</extra>"});
      n += rows[0].n_at_risk;
      atRisk.push({name: name, values: SITE.at_risk_days.map(function (d) {
        var row = rows.find(function (r) { return r.day >= d; });
        return row ? row.n_at_risk : null;
      })});
    });
    if (!data.length) return empty("chart.curve_none");
    var names = atRisk.map(function (a) { return a.name; });
    var table = {type: "scatter", mode: "text", yaxis: "y2", meta: "at_risk", x: [], y: [],
                 text: [], textposition: "middle right", cliponaxis: false,
                 textfont: {size: 11, color: "#333333"}, showlegend: false,
                 hoverinfo: "skip"};
    atRisk.forEach(function (a) {
      a.values.forEach(function (v, j) {
        table.x.push(SITE.at_risk_days[j]);
        table.y.push(a.name);
        table.text.push(v === null ? "< 10" : number(v));
      });
    });
    data.push(table);
    var top = 40;
    var bottom = 12;
    var rowHeight = 20;
    var gap = 92;
    var main = 300;
    var tableHeight = rowHeight * names.length;
    var inner = main + gap + tableHeight;
    var ticks = SITE.at_risk_days.slice();
    for (var d = 1460; d <= lastDay; d += 365) ticks.push(d);
    return {
      data: data,
      layout: baseLayout({
        height: top + inner + bottom, margin: {l: 60, r: 24, t: top, b: bottom},
        legend: {orientation: "h", x: 0, y: 1.02, yanchor: "bottom", traceorder: "normal"},
        xaxis: {title: {text: t("chart.days"), standoff: 4}, gridcolor: "#eeeeee",
                range: [0, Math.max(lastDay, SITE.at_risk_days[SITE.at_risk_days.length - 1])],
                tickvals: ticks, zeroline: false, anchor: "y"},
        yaxis: {title: {text: t("chart.share")}, tickformat: ".0%", range: [0, 1],
                gridcolor: "#dddddd", zeroline: false, automargin: true, ticklabelstandoff: 4,
                domain: [(gap + tableHeight) / inner, 1]},
        yaxis2: {domain: [0, tableHeight / inner], type: "category", categoryorder: "array",
                 categoryarray: names, range: [names.length - 0.5, -0.5], showgrid: false,
                 zeroline: false, showline: false, ticks: "", fixedrange: true,
                 automargin: true, ticklabelstandoff: 10, tickfont: {size: 11},
                 anchor: "x"},
        annotations: [{xref: "paper", yref: "paper", x: 0, xanchor: "left",
                       y: tableHeight / inner, yanchor: "bottom", yshift: 2,
                       showarrow: false, font: {size: 11},
                       text: "<b>" + t("chart.at_risk") + "</b>"}]}),
      n: n,
      notes: [t("note.curve_cut")]
    };
  }

  function hexAlpha(hex, alpha) {
    var v = parseInt(hex.slice(1), 16);
    return "rgba(" + [(v >> 16) & 255, (v >> 8) & 255, v & 255, alpha].join(",") + ")";
  }

  // Rates of participants and comparison per measure and window, side by side in rows (long
  // German labels read across, not crammed under the axis).
  function rates(spec, sel) {
    var keys = [];
    SITE.measures.forEach(function (m) {
      SITE.windows.forEach(function (w) { keys.push({m: m, w: w}); });
    });
    var cats = keys.map(function (k) { return wrap(effectLabel(k.m, k.w), labelWidth()); });
    var n = {};
    var hidden = [];
    var highs = [];
    var all = [];
    var groups = spec.groups.map(function (g) {
      return keys.map(function (k) {
        var r = sel.rows.find(function (x) {
          return x.group === g && x.measure === k.m && x.window_months === k.w;
        }) || {rate: null, ci_low: null, ci_high: null, n_releases: null, missing: true};
        if (!r.missing) all.push(r);
        if (r.rate === null && !r.missing) {
          hidden.push(t("group." + g) + " " + effectLabel(k.m, k.w));
        }
        highs.push(r.ci_high !== null ? r.ci_high : r.rate);
        if (n[g] === undefined || (n[g] === null && r.n_releases !== null)) n[g] = r.n_releases;
        return r;
      });
    });
    var nText = spec.groups.map(function (g) {
      return t("group." + g) + " " + number(n[g]); }).join(", ");
    if (maxOf(highs) === null) return withN(empty(nothingShown(all)), nText);
    var axis = shareAxis(null, highs);
    var data = spec.groups.map(function (g, i) {
      var rows = groups[i];
      return {type: "scatter", mode: "markers", orientation: "h", name: t("group." + g),
              y: cats, x: rows.map(function (r) { return r.rate; }),
              offsetgroup: g, alignmentgroup: "groups", cliponaxis: false,
              error_x: errorBars(rows, "rate", "ci_low", "ci_high"),
              marker: {color: PALETTE[i], symbol: SYMBOLS[i], size: 10},
              hovertemplate: "%{y}: %{x:.1%}<extra>" + t("group." + g) + "</extra>"};
    });
    var legend = {};
    spec.groups.forEach(function (g, i) {
      // Suppressed rates, and (rarely) rates with no published row at all.
      [false, true].forEach(function (missing) {
        var gone = cats.filter(function (_, j) {
          return groups[i][j].rate === null && !!groups[i][j].missing === missing; });
        if (!gone.length) return;
        var name = t(missing ? "chart.no_figure" : "chart.suppressed_label");
        addPlaceholders(data, gone, axis.range, {
          offsetgroup: g, alignmentgroup: "groups", what: t("group." + g),
          legend: !legend[missing], colour: PALETTE[i], name: name,
          labels: gone.map(function () { return name; }),
          reasons: gone.map(function () {
            return missing ? t("site.no_rows") : t("chart.suppressed_why"); })});
        legend[missing] = true;
      });
    });
    return {data: data,
            layout: baseLayout({scattermode: "group", barmode: "group", bargap: 0.2,
                                height: 130 + rowHeight(cats, 48) * cats.length, xaxis: axis,
                                yaxis: categoryAxis(cats),
                                margin: {l: 20, r: 24, t: 40, b: 50}}),
            n: nText,
            notes: [hidden.length ? t("chart.suppressed_list", {items: hidden.join("; ")}) :
              null]};
  }

  function withN(figure, n) {
    figure.n = n;
    return figure;
  }

  function effects(spec, sel) {
    var cats = [];
    var rows = [];
    SITE.measures.forEach(function (m) {
      SITE.windows.forEach(function (w) {
        var r = sel.rows.find(function (x) { return x.measure === m && x.window_months === w; });
        if (!r) return;
        cats.push(wrap(effectLabel(m, w), labelWidth()));
        rows.push(r);
      });
    });
    if (!rows.length) return empty();
    var first = rows[0];
    var nText = t("group.participant") + " " + number(first.n_participants) + ", " +
      t("group.comparison") + " " + number(first.n_comparison);
    var series = [["difference", "chart.raw"], ["standardised_difference", "chart.standardised"]];
    var values = [];
    rows.forEach(function (r) {
      series.forEach(function (p) {
        values.push(r[p[0]], r[p[0] + "_ci_low"], r[p[0] + "_ci_high"]); });
    });
    if (maxOf(values) === null) return withN(empty("chart.all_suppressed"), nText);
    var range = signedRange(values);
    var data = series.map(function (pair, i) {
      var c = pair[0];
      return {type: "scatter", mode: "markers", orientation: "h", name: t(pair[1]), y: cats,
              x: rows.map(function (r) { return r[c]; }), offsetgroup: c,
              alignmentgroup: "series",
              error_x: errorBars(rows, c, c + "_ci_low", c + "_ci_high"),
              marker: {color: PALETTE[i], symbol: SYMBOLS[i], size: 10},
              hovertemplate: "%{y}: %{x:+.1%}<extra>" + t(pair[1]) + "</extra>"};
    });
    var legend = true;
    series.forEach(function (pair) {
      var gone = cats.filter(function (_, j) { return rows[j][pair[0]] === null; });
      if (!gone.length) return;
      addPlaceholders(data, gone, range, {offsetgroup: pair[0], alignmentgroup: "series",
                                           what: t(pair[1]), legend: legend,
                                           colour: PALETTE[series.indexOf(pair)]});
      legend = false;
    });
    return {data: data,
            layout: baseLayout({scattermode: "group", barmode: "group", bargap: 0.2,
                                height: 130 + rowHeight(cats, 48) * cats.length,
                                margin: {l: 20, r: 24, t: 40, b: 50},
                                yaxis: categoryAxis(cats),
                                xaxis: {title: {text: wrap(t("chart.difference"), titleWidth())},
                                        tickformat: "+.0%",
                                        range: range, zeroline: true, zerolinecolor: "#333333",
                                        gridcolor: "#dddddd", automargin: true}}),
            n: nText,
            notes: [suppressedNote(rows, "difference", function (r) {
              return effectLabel(r.measure, r.window_months); })]};
  }

  // The break-down a chart cannot show together with its own axis (`dim`): the published
  // tables break down by one characteristic at a time.
  function otherBreakdown(dim) {
    return BREAKDOWNS.filter(function (d) { return d !== dim && state[d] !== "all"; })[0];
  }

  // One indicator per prison or partner, ranked, with intervals and the programme's value;
  // suppressed ones last, as placeholders.
  function ranked(spec, sel) {
    var code = control(spec);
    var dim = spec.free[0];
    var rows = sel.rows.filter(function (r) { return r.indicator === code; });
    var total = rows.find(function (r) { return r[dim] === "all"; });
    var parts = rows.filter(function (r) { return r[dim] !== "all"; });
    var shown = parts.filter(function (r) { return r.value !== null; });
    var hidden = parts.filter(function (r) { return r.value === null; });
    shown.sort(function (a, b) { return b.value - a.value; });
    var name = function (r) { return wrap(label(dim, r[dim]), 26); };
    var kind = indicatorKind(code);
    var n = total ? (total.denominator !== null && total.denominator !== undefined ?
                     total.denominator : total.numerator) : undefined;
    var notes = [t("chart.programme_value") + ": " + (total ? (isShare(kind) ?
                   percent(total.value) : number(total.value, 2)) : "\u2013"),
                 suppressedNote(parts, "value", function (r) { return label(dim, r[dim]); })];
    if (!shown.length) {
      var other = otherBreakdown(dim);
      var figure = !parts.length && other ?
        empty("chart.not_crossed", {dim: t("filter." + other), axis: t("filter." + dim)}) :
        empty(nothingShown(parts));
      figure.n = n;
      figure.notes = notes;
      return figure;
    }
    var values = shown.map(function (r) { return r.ci_high !== null ? r.ci_high : r.value; });
    if (total) values.push(total.value, total.ci_high);
    var axis = isShare(kind) ? shareAxis(t("chart.value"), values) :
      countAxis(t("chart.value"), values);
    var cats = shown.map(name).concat(hidden.map(name));
    var data = [{type: "scatter", mode: "markers", orientation: "h", x: shown.map(function (r) {
      return r.value; }), y: shown.map(name), name: t("indicator." + code),
      error_x: errorBars(shown, "value", "ci_low", "ci_high"),
      marker: {color: PALETTE[0], size: 9}, cliponaxis: false,
      hovertemplate: "%{y}: %{x:" + (isShare(kind) ? ".1%" : ".2f") + "}<extra></extra>"}];
    if (hidden.length) data.push(placeholders(hidden.map(name), axis.range));
    var shapes = [];
    if (total && total.value !== null) {
      shapes.push({type: "line", xref: "x", yref: "paper", x0: total.value, x1: total.value,
                   y0: 0, y1: 1, line: {color: PALETTE[5], width: 2, dash: "dash"}});
      if (total.ci_low !== null && total.ci_high !== null) {
        shapes.push({type: "rect", xref: "x", yref: "paper", x0: total.ci_low, x1: total.ci_high,
                     y0: 0, y1: 1, fillcolor: hexAlpha(PALETTE[5], 0.12), line: {width: 0},
                     layer: "below"});
      }
    }
    return {data: data,
            layout: baseLayout({xaxis: axis, shapes: shapes, showlegend: false, bargap: 0.3,
                                yaxis: categoryAxis(cats),
                                height: 100 + 34 * cats.length,
                                margin: {l: 20, r: 20, t: 10, b: 50}}),
            n: n, notes: notes};
  }

  // Counts or shares by a category (end reasons, dropout by type, quarantine by reason...).
  // Several values stack; a category with a suppressed part gets a labelled placeholder
  // beside its stack.
  function bars(spec, sel) {
    var dim = spec.category;
    var rows = sel.rows.filter(function (r) {
      return r[dim] !== "all" && (!spec.where || r[spec.where[0]] === spec.where[1]);
    });
    // The total row of the selection ("all" in the category; for a long break-down, the row
    // of no break-down at all).
    var total = sel.rows.find(function (r) { return r[dim] === "all"; });
    var names = function (r) { return wrap(label(spec.labels || dim, r[dim]), 30); };
    var dots = spec.mode === "dots";
    var stacked = !dots && spec.values.length > 1;
    var ends = rows.map(function (r) {
      var parts = spec.values.map(function (v) {
        return dots && r.ci_high !== null && r.ci_high !== undefined && r[v.column] !== null ?
          r.ci_high : r[v.column]; });
      return stacked ? (parts.some(present) ? parts.filter(present).reduce(function (a, b) {
        return a + b; }, 0) : null) : maxOf(parts);
    });
    var n = total ? total[spec.n] : undefined;
    if (maxOf(ends) === null) return withN(empty(nothingShown(rows)), n);
    var axis = spec.share ? shareAxis(t(spec.values[0].label), ends) :
      countAxis(t("chart.count"), ends);
    var data = spec.values.map(function (v, i) {
      var shown = rows.filter(function (r) { return r[v.column] !== null; });
      var trace = {type: dots ? "scatter" : "bar", orientation: "h",
                   name: t(v.label), y: shown.map(names),
                   x: shown.map(function (r) { return r[v.column]; }),
                   offsetgroup: stacked ? "stack" : "values",
                   marker: {color: PALETTE[i], size: 10},
                   hovertemplate: "%{y}: %{x" + (spec.share ? ":.1%" : "") + "}<extra>" +
                     t(v.label) + "</extra>"};
      if (dots) {
        trace.mode = "markers";
        trace.cliponaxis = false;
        trace.error_x = errorBars(shown, v.column, "ci_low", "ci_high");
      }
      return trace;
    });
    var gone = rows.filter(function (r) {
      return spec.values.some(function (v) { return r[v.column] === null; }); });
    if (gone.length) {
      var what = gone.map(function (r) {
        return stacked ? spec.values.filter(function (v) { return r[v.column] === null; })
          .map(function (v) { return t(v.label); }).join(", ") : ""; });
      data.push(placeholders(gone.map(names), axis.range, {
        offsetgroup: stacked ? "suppressed" : "values", what: stacked ? what : undefined,
        legend: stacked}));
    }
    var slot = stacked && gone.length ? 52 : 32;
    return {data: data,
            layout: baseLayout({barmode: stacked ? "stack" : "group", xaxis: axis,
                                showlegend: spec.values.length > 1, bargap: 0.25,
                                yaxis: categoryAxis(rows.map(names)),
                                height: 120 + slot * Math.max(rows.length, 1),
                                margin: {l: 20, r: 20, t: 10, b: 50}}),
            n: n,
            notes: [suppressedNote(rows, spec.values[0].column, function (r) {
              return label(spec.labels || dim, r[dim]); })]};
  }

  function tableName(name) {
    var table = MESSAGES[state.lang] || MESSAGES.en;
    if (table["table." + name] !== undefined) return t("table." + name);
    if (table["protected." + name] !== undefined) return t("protected." + name);
    return name;
  }

  function validation(spec) {
    var rows = PAGE.validation || [];
    if (!rows.length) return empty("chart.no_validation");
    // A mart added upstream without a message yet shows under its own name.
    var names = rows.map(function (r) { return tableName(r.table); });
    var totals = rows.map(function (r) { return r.passed + r.failed; });
    return {data: [
      {type: "bar", orientation: "h", name: t("chart.passed"), y: names,
       x: rows.map(function (r) { return r.passed; }), marker: {color: PALETTE[2]}},
      {type: "bar", orientation: "h", name: t("chart.failed"), y: names,
       x: rows.map(function (r) { return r.failed; }), marker: {color: PALETTE[5]}}],
            layout: baseLayout({barmode: "stack", height: 110 + 28 * rows.length,
                                yaxis: categoryAxis(names), xaxis: countAxis(null, totals),
                                margin: {l: 20, r: 20, t: 10, b: 50}}),
            n: totals.reduce(function (a, b) { return a + b; }, 0),
            notes: []};
  }

  // How much disclosure control hid, per protected table: the share of suppressed cells.
  function suppression(spec, sel) {
    var rows = sel.rows.filter(function (r) { return r.table !== "all"; }).slice();
    rows.sort(function (a, b) { return (b.share_suppressed || 0) - (a.share_suppressed || 0); });
    var shown = rows.filter(function (r) { return r.share_suppressed !== null; });
    if (!shown.length) return empty(nothingShown(rows));
    var names = rows.map(function (r) { return tableName(r.table); });
    var cells = rows.reduce(function (a, r) { return a + (r.n_cells || 0); }, 0);
    return {
      data: [{type: "bar", orientation: "h", name: t("chart.share_suppressed"),
              y: shown.map(function (r) { return tableName(r.table); }),
              x: shown.map(function (r) { return r.share_suppressed; }),
              text: shown.map(function (r) {
                return percent(r.share_suppressed) + " (" + number(r.n_suppressed) + " / " +
                  number(r.n_cells) + ")"; }),
              textposition: "outside", cliponaxis: false, textfont: {size: 11},
              marker: {color: PALETTE[4]},
              hovertemplate: "%{y}: %{text}<extra></extra>"}],
      // Room beside the longest bar for its label.
      layout: baseLayout({xaxis: shareAxis(t("chart.share_suppressed"), shown.map(function (r) {
                            return r.share_suppressed * 1.5; })),
                          yaxis: categoryAxis(names), showlegend: false, bargap: 0.3,
                          height: 110 + 28 * rows.length,
                          margin: {l: 20, r: 130, t: 10, b: 50}}),
      n: cells,
      notes: [t("note.suppression_cells")]
    };
  }

  // ---------------------------------------------------------------- the evaluation
  function programmeName(id) {
    var info = SITE.programme_info[id];
    return info && info.name ? info.name : id;
  }

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }

  function languageName(code) {
    var key = "language." + code;
    return (MESSAGES[state.lang] || MESSAGES.en)[key] !== undefined ? t(key) : code;
  }

  // The verdict of a row in the chosen language; else English, else the programme's main
  // language (the mart holds one text per language of the programme).
  function verdictText(row, programme) {
    var texts = {};
    (row.verdict_texts || []).forEach(function (e) { texts[e.key] = e.value; });
    var info = SITE.programme_info[programme] || {languages: []};
    var order = [state.lang, "en"].concat(info.languages || []).concat(Object.keys(texts));
    for (var i = 0; i < order.length; i++) {
      if (texts[order[i]]) return {text: texts[order[i]], lang: order[i]};
    }
    return null;
  }

  function effectLabel(m, w) { return t("measure." + m) + " · " + t("window." + w); }

  function points(v) {
    return v === null || v === undefined ? t("chart.suppressed") :
      (v > 0 ? "+" : v < 0 ? "\u2212" : "") + number(Math.abs(v * 100), 1);
  }

  function noEffects(programme) {
    return !SITE.n_programme_period_releases || !rowsOf("effects").some(function (r) {
      return r.programme === programme; });
  }

  // Each programme's headline effect as a sentence (the verdict of the mart).
  function verdicts(spec) {
    var h = spec.headline;
    var parts = [];
    var ns = [];
    SITE.programmes.forEach(function (p) {
      var row = rowsOf("effects").find(function (r) {
        return r.programme === p && r.cohort === h.cohort && r.estimator === h.estimator &&
          r.measure === h.measure && r.window_months === h.window_months;
      });
      var body;
      if (!row || noEffects(p)) {
        body = '<p class="verdict none" data-programme="' + escapeHtml(p) + '">' +
          escapeHtml(t("effect.none")) + "</p>";
      } else {
        var v = verdictText(row, p);
        if (v) {
          body = '<p class="verdict" data-programme="' + escapeHtml(p) + '" lang="' +
            escapeHtml(v.lang) + '">' + escapeHtml(v.text) + "</p>";
          if (v.lang !== state.lang) {
            body += '<p class="fallback">' + escapeHtml(t("effect.language_fallback", {
              language: languageName(v.lang), chosen: languageName(state.lang)})) + "</p>";
          }
        } else {
          body = '<p class="verdict suppressed" data-programme="' + escapeHtml(p) + '">' +
            escapeHtml(row.is_estimated ? t("effect.suppressed") : t("verdict." + row.verdict)) +
            "</p>";
        }
        var info = SITE.programme_info[p] || {};
        ns.push(programmeName(p) + ": " + t("group.participant") + " " +
                number(info.n_participants) + ", " + t("group.comparison") + " " +
                number(info.n_comparison));
      }
      parts.push('<div class="programme-verdict"><h3>' + escapeHtml(programmeName(p)) +
                 "</h3>" + body + "</div>");
    });
    return {html: parts.join(""), n: ns.length ? ns.join(" · ") : undefined,
            notes: [t("note.verdict_headline")]};
  }

  // Not estimated and suppressed rows of an effects chart, by name and reason.
  function missingEffects(spec, sel, column) {
    var notEstimated = [];
    var hidden = [];
    spec.estimators.forEach(function (e) {
      SITE.measures.forEach(function (m) {
        SITE.windows.forEach(function (w) {
          var r = sel.rows.find(function (x) {
            return x.estimator === e && x.measure === m && x.window_months === w; });
          var name = t("estimator." + e) + " " + effectLabel(m, w);
          if (!r) notEstimated.push(name + " (" + t("effect.no_row") + ")");
          else if (!r.is_estimated) notEstimated.push(name + " (" + t("verdict." + r.verdict) + ")");
          else if (r[column] === null) hidden.push(name);
        });
      });
    });
    return [notEstimated.length ? t("chart.not_estimated_list", {items: notEstimated.join("; ")})
              : null,
            hidden.length ? t("chart.suppressed_list", {items: hidden.join("; ")}) : null];
  }

  function effectN(sel) {
    var weighted = sel.rows.filter(function (r) { return r.estimator === "weighted"; });
    var matched = sel.rows.filter(function (r) { return r.estimator === "matched"; });
    var most = function (rows, c) {
      var v = rows.map(function (r) { return r[c]; });
      if (!v.length) return undefined;
      if (v.some(function (x) { return x === null; })) return null;
      return Math.max.apply(null, v);
    };
    return t("group.participant") + " " + number(most(weighted, "n_participants")) + " (" +
      t("estimator.matched") + " " + number(most(matched, "n_participants")) + "), " +
      t("group.comparison") + " " + number(most(weighted, "n_comparison")) + " (" +
      t("estimator.matched") + " " + number(most(matched, "n_comparison")) + ")";
  }

  // The effects an effects chart cannot draw, as placeholders in each estimator's slot: not
  // estimated (and why), or suppressed. `value` is the drawn column.
  function effectGaps(spec, sel, cats, value, span, data) {
    var legend = {};
    spec.estimators.forEach(function (e, i) {
      var gaps = {suppressed: {names: [], reasons: []}, not_estimated: {names: [], reasons: []}};
      SITE.measures.forEach(function (m) {
        SITE.windows.forEach(function (w) {
          var r = sel.rows.find(function (x) {
            return x.estimator === e && x.measure === m && x.window_months === w; });
          var name = cats[SITE.measures.indexOf(m) * SITE.windows.length +
                          SITE.windows.indexOf(w)];
          if (!r || !r.is_estimated) {
            gaps.not_estimated.names.push(name);
            gaps.not_estimated.reasons.push(r ? t("verdict." + r.verdict) : t("effect.no_row"));
          } else if (r[value] === null) {
            gaps.suppressed.names.push(name);
            gaps.suppressed.reasons.push(t("chart.suppressed_why"));
          }
        });
      });
      Object.keys(gaps).forEach(function (kind) {
        var g = gaps[kind];
        if (!g.names.length) return;
        var label = kind === "suppressed" ? t("chart.suppressed_label") :
          t("chart.not_estimated_label");
        addPlaceholders(data, g.names, span, {
          offsetgroup: e, alignmentgroup: "estimators", what: t("estimator." + e),
          colour: PALETTE[i], legend: !legend[kind], name: label, reasons: g.reasons,
          labels: g.names.map(function () { return label; })});
        legend[kind] = true;
      });
    });
  }

  // Every effect of the rate outcome: the difference in percentage points with its 95 %
  // interval, matched and weighted, a line at no difference.
  function forest(spec, sel) {
    if (noEffects(state.programme)) return empty(spec.empty);
    var cats = [];
    SITE.measures.forEach(function (m) {
      SITE.windows.forEach(function (w) { cats.push(wrap(effectLabel(m, w), labelWidth())); });
    });
    var data = spec.estimators.map(function (e, i) {
      var rows = [];
      SITE.measures.forEach(function (m) {
        SITE.windows.forEach(function (w) {
          var r = sel.rows.find(function (x) {
            return x.estimator === e && x.measure === m && x.window_months === w; });
          if (r && r.is_estimated && r.difference !== null) rows.push(r);
        });
      });
      var name = t("estimator." + e);
      return {
        type: "scatter", mode: "markers", orientation: "h", name: name,
        offsetgroup: e, alignmentgroup: "estimators",
        x: rows.map(function (r) { return 100 * r.difference; }),
        y: rows.map(function (r) {
          return wrap(effectLabel(r.measure, r.window_months), labelWidth()); }),
        error_x: {type: "data", symmetric: false, color: PALETTE[i], thickness: 1.6, width: 5,
                  array: rows.map(function (r) {
                    return r.difference_ci_high === null ? null :
                      100 * (r.difference_ci_high - r.difference); }),
                  arrayminus: rows.map(function (r) {
                    return r.difference_ci_low === null ? null :
                      100 * (r.difference - r.difference_ci_low); })},
        marker: {color: PALETTE[i], symbol: SYMBOLS[i], size: 10,
                 line: {color: "#ffffff", width: 1}},
        customdata: rows.map(function (r) {
          return [points(r.difference_ci_low), points(r.difference_ci_high),
                  percent(r.rate_participants), percent(r.rate_comparison)]; }),
        hovertemplate: "%{y}<br>" + name + ": %{x:+.1f} " + t("chart.points_short") +
          " (%{customdata[0]} " + t("chart.to") + " %{customdata[1]})<br>" +
          t("group.participant") + " %{customdata[2]}, " + t("group.comparison") +
          " %{customdata[3]}<extra></extra>"
      };
    });
    var values = [];
    sel.rows.forEach(function (r) {
      if (r.is_estimated) {
        [r.difference, r.difference_ci_low, r.difference_ci_high].forEach(function (v) {
          if (present(v)) values.push(100 * v); });
      }
    });
    return effectChart(spec, sel, cats, data, {
      value: "difference", range: signedRange(values), reference: 0, gap: 0.5, row: 40,
      right: 30, axis: "chart.points", note: "note.negative_fewer"});
  }

  // The effects by measure x window as horizontal markers with their intervals, a line at no
  // effect (`reference`) and placeholders where an effect is missing (forest, E-values).
  function effectChart(spec, sel, cats, data, o) {
    effectGaps(spec, sel, cats, o.value, o.range, data);
    return {
      data: data,
      layout: baseLayout({
        scattermode: "group", scattergap: o.gap, barmode: "group", bargap: 0.2,
        height: 140 + rowHeight(cats, o.row) * cats.length,
        margin: {l: 20, r: o.right, t: 40, b: 60},
        xaxis: {title: {text: wrap(t(o.axis), titleWidth())}, range: o.range,
                gridcolor: "#dddddd", zeroline: false, ticksuffix: "", automargin: true},
        yaxis: categoryAxis(cats),
        shapes: [{type: "line", xref: "x", yref: "paper", x0: o.reference, x1: o.reference,
                  y0: 0, y1: 1, line: {color: "#333333", width: 1.5}}]
      }),
      n: effectN(sel),
      notes: missingEffects(spec, sel, o.value).concat([t(o.note)])
    };
  }

  function levelLabel(covariate, level) {
    if (level === null || level === undefined || level === "") return "";
    var key = "level." + covariate + "." + level;
    var table = MESSAGES[state.lang] || MESSAGES.en;
    if (table[key] !== undefined) return t(key);
    if (covariate === "sex" || covariate === "age_band") {
      if (table[covariate + "." + level] !== undefined) return t(covariate + "." + level);
    }
    if (covariate === "releasing_prison") return SITE.names[level] || level;
    if (level === "missing" || level === "unknown" || level === "none") return t("level." + level);
    return level.replace(/^under_/, "< ").replace(/_plus$|plus$/, "+").replace(/_/g, "\u2013")
      .replace(/(\d)(y|m)\b/g, "$1 $2");
  }

  // Love plot: the SMD of every covariate level before adjustment, after matching and after
  // weighting, with lines at +-0.1.
  function love(spec, sel) {
    if (noEffects(state.programme)) return empty(spec.empty);
    var keys = [];
    var seen = {};
    sel.rows.forEach(function (r) {
      var k = r.covariate + "\u0000" + (r.level || "");
      if (!seen[k]) { seen[k] = true; keys.push({covariate: r.covariate, level: r.level}); }
    });
    var name = function (k) {
      var lv = levelLabel(k.covariate, k.level);
      return t("covariate." + k.covariate) + (lv ? ": " + lv : "");
    };
    var cats = keys.map(name);
    var hiddenMeans = {};
    var colours = {before: PALETTE[5], matched: PALETTE[0], weighted: PALETTE[1]};
    var symbols = {before: "square-open", matched: "circle", weighted: "diamond"};
    var imbalanced = [];
    var data = spec.stages.map(function (stage) {
      var rows = sel.rows.filter(function (r) { return r.stage === stage && r.smd !== null; });
      var over = rows.filter(function (r) { return Math.abs(r.smd) > 0.1; }).length;
      imbalanced.push(t("balance_stage." + stage) + " " + number(over));
      rows.forEach(function (r) {
        if (r.mean_participants === null) hiddenMeans[name(r)] = true;
      });
      var fmt = function (v) {
        if (v === null) return t("chart.suppressed");
        return v <= 1 && v >= 0 ? percent(v) : number(v, 1);
      };
      return {
        type: "scatter", mode: "markers", name: t("balance_stage." + stage),
        x: rows.map(function (r) { return r.smd; }), y: rows.map(name),
        marker: {color: colours[stage], symbol: symbols[stage], size: stage === "before" ? 9 : 8,
                 line: {width: stage === "before" ? 1.6 : 0.5, color: colours[stage]}},
        customdata: rows.map(function (r) {
          return [fmt(r.mean_participants), fmt(r.mean_comparison)]; }),
        hovertemplate: "%{y}<br>" + t("balance_stage." + stage) + ": SMD %{x:.3f}<br>" +
          t("group.participant") + " %{customdata[0]}, " + t("group.comparison") +
          " %{customdata[1]}<extra></extra>"
      };
    });
    var line = function (x, dash) {
      return {type: "line", xref: "x", yref: "paper", x0: x, x1: x, y0: 0, y1: 1,
              line: {color: x === 0 ? "#333333" : "#777777", width: 1, dash: dash}};
    };
    var info = SITE.programme_info[state.programme] || {};
    var hidden = Object.keys(hiddenMeans);
    return {
      data: data,
      layout: baseLayout({
        height: 150 + 17 * cats.length, margin: {l: 20, r: 20, t: 40, b: 60},
        xaxis: {title: {text: wrap(t("chart.smd"), titleWidth())}, zeroline: false,
                gridcolor: "#eeeeee",
                automargin: true},
        yaxis: {type: "category", categoryorder: "array", categoryarray: cats,
                range: [cats.length - 0.5, -0.5], automargin: true, tickfont: {size: 11}},
        shapes: [line(-0.1, "dash"), line(0.1, "dash"), line(0, "solid")]
      }),
      n: t("group.participant") + " " + number(info.n_participants) + ", " +
         t("group.comparison") + " " + number(info.n_comparison),
      notes: [t("chart.imbalanced", {items: imbalanced.join(", ")}),
              hidden.length ? t("chart.means_suppressed", {items: hidden.join("; ")}) : null]
    };
  }

  // Propensity score overlap: participants above, comparison below the axis, per bin.
  function overlap(spec, sel) {
    if (noEffects(state.programme)) return empty(spec.empty);
    var groups = [["participant", 1], ["comparison", -1]];
    var bins = sel.rows.filter(function (r) { return r.score_bin !== "all"; });
    var label = function (r) { return number(r.score_low, 2) + "\u2013" + number(r.score_high, 2); };
    var order = [];
    bins.slice().sort(function (a, b) { return a.score_low - b.score_low; }).forEach(function (r) {
      var l = label(r);
      if (order.indexOf(l) < 0) order.push(l);
    });
    var data = [];
    var hidden = [];
    var max = 0;
    var totals = {};
    groups.forEach(function (g, i) {
      var rows = bins.filter(function (r) { return r.group === g[0]; });
      var total = sel.rows.find(function (r) { return r.group === g[0] && r.score_bin === "all"; });
      totals[g[0]] = total ? total.n_releases : undefined;
      var shown = rows.filter(function (r) { return r.n_releases !== null; });
      var gone = rows.filter(function (r) { return r.n_releases === null; });
      shown.forEach(function (r) { max = Math.max(max, r.n_releases); });
      data.push({type: "bar", name: t("group." + g[0]), x: shown.map(label),
                 y: shown.map(function (r) { return g[1] * r.n_releases; }),
                 customdata: shown.map(function (r) { return number(r.n_releases); }),
                 marker: {color: PALETTE[i], line: {color: "#333333", width: 0.5}},
                 hovertemplate: "%{x}: %{customdata}<extra>" + t("group." + g[0]) + "</extra>"});
      if (gone.length) {
        hidden = hidden.concat(gone.map(function (r) { return t("group." + g[0]) + " " + label(r); }));
        data.push({type: "scatter", mode: "markers", name: t("group." + g[0]) + ": " +
                     t("chart.suppressed"), x: gone.map(label),
                   y: gone.map(function () { return 0; }),
                   marker: {symbol: g[1] > 0 ? "triangle-up-open" : "triangle-down-open",
                            color: PALETTE[i], size: 11, line: {width: 2}},
                   hovertemplate: "%{x}: " + t("chart.suppressed") + "<extra>" +
                     t("group." + g[0]) + "</extra>"});
      }
    });
    var step = Math.pow(10, Math.floor(Math.log10(Math.max(max, 10))));
    if (max / step < 3) step = step / 2;
    var ticks = [];
    for (var v = -Math.ceil(max / step) * step; v <= max; v += step) ticks.push(v);
    return {
      data: data,
      layout: baseLayout({
        barmode: "relative", height: 420, margin: {l: 70, r: 20, t: 50, b: 90},
        xaxis: {title: {text: t("chart.score")}, type: "category", categoryorder: "array",
                categoryarray: order, tickangle: -45},
        yaxis: {title: {text: t("chart.count")}, tickvals: ticks,
                ticktext: ticks.map(function (x) { return number(Math.abs(x)); }),
                zeroline: true, zerolinecolor: "#333333", gridcolor: "#eeeeee"}
      }),
      n: t("group.participant") + " " + number(totals.participant) + ", " +
         t("group.comparison") + " " + number(totals.comparison),
      notes: [t("note.overlap_axis"),
              hidden.length ? t("chart.suppressed_list", {items: hidden.join("; ")}) : null]
    };
  }

  // Common support: participants with and without a match, the comparison's effective size.
  function support(spec, sel) {
    if (noEffects(state.programme)) return {html: '<p class="verdict none">' +
      escapeHtml(t("effect.none")) + "</p>", n: undefined, notes: []};
    var h = spec.headline;
    var find = function (e) {
      return sel.rows.find(function (r) {
        return r.estimator === e && r.measure === h.measure && r.window_months === h.window_months;
      });
    };
    var matched = find("matched") || {};
    var weighted = find("weighted") || {};
    var info = SITE.programme_info[state.programme] || {};
    var rows = [
      ["support.participants", number(info.n_participants)],
      ["support.with_followup", number(weighted.n_participants)],
      ["support.matched", number(matched.n_participants)],
      ["support.unmatched", number(matched.n_participants_unmatched)],
      ["support.comparison", number(weighted.n_comparison)],
      ["support.matched_comparison", number(matched.n_comparison)],
      ["support.effective_n", number(weighted.effective_n_comparison)]
    ];
    var html = '<table class="facts"><tbody>' + rows.map(function (r) {
      return "<tr><th>" + escapeHtml(t(r[0])) + '</th><td data-key="' + r[0] + '">' +
        escapeHtml(r[1]) + "</td></tr>";
    }).join("") + "</tbody></table>";
    return {html: html, n: t("group.participant") + " " + number(info.n_participants),
            notes: [matched.n_participants_unmatched === null ? t("note.unmatched_suppressed") :
                    null]};
  }

  // E-values of every effect, matched and weighted: the point estimate's and the interval's.
  function evalues(spec, sel) {
    if (noEffects(state.programme)) return empty(spec.empty);
    var cats = [];
    SITE.measures.forEach(function (m) {
      SITE.windows.forEach(function (w) { cats.push(wrap(effectLabel(m, w), labelWidth())); });
    });
    var max = 1;
    var data = [];
    spec.estimators.forEach(function (e, i) {
      var rows = sel.rows.filter(function (r) {
        return r.estimator === e && r.is_estimated && r.e_value !== null; });
      rows.forEach(function (r) { max = Math.max(max, r.e_value); });
      var name = t("estimator." + e);
      data.push({type: "scatter", mode: "markers+text", orientation: "h", name: name,
                 legendgroup: e, offsetgroup: e, alignmentgroup: "estimators",
                 x: rows.map(function (r) { return r.e_value; }),
                 y: rows.map(function (r) {
                   return wrap(effectLabel(r.measure, r.window_months), labelWidth()); }),
                 text: rows.map(function (r) {
                   return number(r.e_value, 2, true) + " (" + number(r.e_value_ci, 2, true) +
                     ")"; }),
                 textposition: "middle right", textfont: {size: 11, color: i ? "#8a5a00" : PALETTE[i]},
                 cliponaxis: false,
                 error_x: {type: "data", symmetric: false, color: PALETTE[i], thickness: 1.6,
                           width: 0, array: rows.map(function () { return 0; }),
                           arrayminus: rows.map(function (r) {
                             return r.e_value_ci === null ? null : r.e_value - r.e_value_ci; })},
                 marker: {color: PALETTE[i], symbol: SYMBOLS[i], size: 10},
                 customdata: rows.map(function (r) { return number(r.e_value_ci, 2, true); }),
                 hovertemplate: "%{y}<br>" + name + ": " + t("chart.e_value") + " %{x:.2f}, " +
                   t("chart.e_value_ci") + " %{customdata}<extra></extra>"});
    });
    return effectChart(spec, sel, cats, data, {
      value: "e_value", range: [0.8, Math.ceil(max * 1.25)], reference: 1, gap: 0.3, row: 44,
      right: 60, axis: "chart.e_value_axis", note: "note.evalue_read"});
  }

  // A chart with nothing to draw says why, in its own frame, and draws no axes (an empty
  // Plotly axis would invent a range).
  function empty(message, values) {
    var key = message || "site.no_rows";
    var text = t(key, values);
    return {data: [], why: key, whyText: text, n: undefined, notes: [],
            layout: baseLayout({height: 220, margin: {l: 20, r: 20, t: 20, b: 20},
              xaxis: {visible: false, range: [0, 1]}, yaxis: {visible: false, range: [0, 1]},
              meta: {why: key}, showlegend: false,
              annotations: [{xref: "paper", yref: "paper", x: 0.5, y: 0.5, showarrow: false,
                             text: wrap(text, 56), align: "center",
                             font: {size: 14, color: "#444444"}, bgcolor: "#f6f6f4",
                             bordercolor: "#cccccc", borderwidth: 1, borderpad: 12}]})};
  }

  var RENDERERS = {headline: headline, trend: trend, employment: employment, funnel: funnel,
                   funnel_partners: funnelPartners, curves: curves, rates: rates,
                   effects: effects, ranked: ranked, bars: bars, validation: validation,
                   verdicts: verdicts, forest: forest, love: love, overlap: overlap,
                   support: support, evalues: evalues, suppression: suppression};

  // ---------------------------------------------------------------- page
  function translateStatic() {
    document.documentElement.lang = state.lang;
    var info = SITE.programme_info[state.programme] || {};
    document.querySelectorAll("[data-i18n]").forEach(function (el) {
      el.textContent = t(el.getAttribute("data-i18n"), {
        programme: programmeName(state.programme), date: formatDate(SITE.as_of),
        start: formatDate(info.start), end: formatDate(info.end),
        built: formatDate(SITE.built_at), version: SITE.data_version.slice(0, 12)});
    });
    document.querySelectorAll("button[data-lang]").forEach(function (b) {
      b.setAttribute("aria-pressed", b.getAttribute("data-lang") === state.lang);
    });
    // The tab says which page it is, in the page's language.
    document.title = t("nav." + PAGE.page) + " \u2013 reentry-warehouse";
  }

  function options(dim) {
    if (dim === "cohort") return ["all"].concat(SITE.cohorts);
    return ["all"].concat((SITE.breakdowns[state.programme] || {})[dim] || []);
  }

  function fillSelect(select, values, dim, current) {
    select.innerHTML = "";
    values.forEach(function (v) {
      var o = document.createElement("option");
      o.value = v;
      o.textContent = dim === "programme" ? programmeName(v) :
        dim.indexOf("control:") === 0 ? t(dim.slice(8) + "." + v) : label(dim, v);
      if (v === current) o.selected = true;
      select.appendChild(o);
    });
  }

  function renderFilters() {
    fillSelect(document.getElementById("filter-programme"), SITE.programmes, "programme",
               state.programme);
    FILTERS.forEach(function (dim) {
      var values = options(dim);
      if (values.indexOf(state[dim]) < 0) state[dim] = "all";
      fillSelect(document.getElementById("filter-" + dim), values, dim, state[dim]);
    });
    var summary = [t("filter.programme") + ": " + programmeName(state.programme)];
    FILTERS.forEach(function (dim) {
      if (state[dim] !== "all") summary.push(t("filter." + dim) + ": " + label(dim, state[dim]));
    });
    document.getElementById("selection").textContent = summary.join(" · ");
  }

  function renderChart(spec) {
    var card = document.querySelector('[data-chart="' + spec.id + '"]');
    if (spec.control) {
      var box = card.querySelector("select.control");
      fillSelect(box, spec.control.options, "control:" + spec.control.labels,
                 control(spec));
    }
    var sel = spec.kind === "validation" ? {rows: [], notes: []} : select(spec);
    plotWidth = (card.querySelector(".plot") || card).clientWidth || 600;
    var figure = sel.rows.length || spec.kind === "validation" || spec.empty ?
      RENDERERS[spec.kind](spec, sel) : empty();
    if (!spec.html && !figure.why && !figure.data.some(drawsData)) {
      // Nothing drawn after all (placeholders only, or no point): say why, draw no axes.
      var why = empty(figure.data.some(function (tr) { return tr.meta === SUPPRESSED; }) ?
                      "chart.all_suppressed" : "site.no_rows");
      why.n = figure.n;
      why.notes = figure.notes;
      figure = why;
    }
    var meta = [];
    if (figure.n === null) meta.push(t("chart.n_suppressed"));
    else if (figure.n !== undefined) meta.push(t("chart.n", {n: typeof figure.n === "number" ?
                                                             number(figure.n) : figure.n}));
    meta.push(t("chart.as_of", {date: formatDate(SITE.as_of)}));
    card.querySelector(".meta").textContent = meta.join(" · ");
    var notes = sel.notes.concat(figure.notes).filter(Boolean);
    card.querySelector(".notes").textContent = notes.join(" ");
    if (spec.html) {
      card.querySelector(".text").innerHTML = figure.html;
      return Promise.resolve();
    }
    var plot = card.querySelector(".plot");
    plot.setAttribute("aria-label", t(spec.title) + (figure.why ? ": " + figure.whyText : ""));
    plot.setAttribute("data-why", figure.why || "");
    return Plotly.react(plot, figure.data, figure.layout, {
      displaylogo: false, responsive: true, locale: state.lang,
      modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d"],
      toImageButtonOptions: {filename: "reentry-" + spec.id}
    });
  }

  function render() {
    translateStatic();
    renderFilters();
    writeState();
    document.body.setAttribute("data-rendered", "false");
    Promise.all(PAGE.charts.map(renderChart)).then(function () {
      document.body.setAttribute("data-rendered", "true");
      document.body.setAttribute("data-lang", state.lang);
    });
  }

  function wire() {
    document.querySelectorAll("button[data-lang]").forEach(function (b) {
      b.addEventListener("click", function () { state.lang = b.getAttribute("data-lang");
                                                render(); });
    });
    document.getElementById("filter-programme").addEventListener("change", function (e) {
      state.programme = e.target.value;
      BREAKDOWNS.forEach(function (d) { state[d] = "all"; });
      render();
    });
    FILTERS.forEach(function (dim) {
      document.getElementById("filter-" + dim).addEventListener("change", function (e) {
        // The published tables break down by one of these at a time.
        if (BREAKDOWNS.indexOf(dim) >= 0) {
          BREAKDOWNS.forEach(function (d) { if (d !== dim) state[d] = "all"; });
        }
        state[dim] = e.target.value;
        render();
      });
    });
    PAGE.charts.forEach(function (spec) {
      if (!spec.control) return;
      var card = document.querySelector('[data-chart="' + spec.id + '"]');
      card.querySelector("select.control").addEventListener("change", function (e) {
        state[spec.control.param] = e.target.value;
        render();
      });
    });
    document.getElementById("print").addEventListener("click", function () { window.print(); });
    window.addEventListener("hashchange", function () { state = readState(); render(); });
  }

  wire();
  render();
})();
