/* The evaluators' site: filters, language switch and charts, all in the browser.
 *
 * Each page loads plotly.min.js (bundled once), messages.js (REENTRY_MESSAGES: de, nl, en),
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
  var LANGUAGES = ["de", "nl", "en"];
  var BREAKDOWNS = ["prison_id", "partner_id", "sex", "age_band"];
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
    return t(dim + "." + value);
  }

  function number(value, digits, fixed) {
    if (value === null || value === undefined) return t("chart.suppressed");
    return Number(value).toLocaleString(locale(), {maximumFractionDigits: digits || 0,
                                                   minimumFractionDigits: fixed ? digits : 0});
  }

  function percent(value) {
    if (value === null || value === undefined) return t("chart.suppressed");
    return Number(value).toLocaleString(locale(), {style: "percent", maximumFractionDigits: 1});
  }

  function locale() {
    return {de: "de-DE", nl: "nl-NL", en: "en-GB"}[state.lang];
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
      legend: {orientation: "h", x: 0, y: 1.02, yanchor: "bottom"},
      hoverlabel: {namelength: -1},
      separators: state.lang === "en" ? ".," : ",."
    };
    Object.keys(extra || {}).forEach(function (k) { layout[k] = extra[k]; });
    return layout;
  }

  function shareAxis(title) {
    return {title: {text: title || t("chart.share")}, tickformat: ".0%", rangemode: "tozero",
            gridcolor: "#dddddd", zeroline: false};
  }

  function errorBars(rows, value, low, high) {
    return {
      type: "data", symmetric: false, color: "#555555", thickness: 1.2, width: 4,
      array: rows.map(function (r) { return r[high] === null ? null : r[high] - r[value]; }),
      arrayminus: rows.map(function (r) { return r[low] === null ? null : r[value] - r[low]; })
    };
  }

  function suppressedNote(rows, column, name) {
    var hidden = rows.filter(function (r) { return r[column] === null; }).map(name);
    return hidden.length ? t("chart.suppressed_list", {items: hidden.join(", ")}) : null;
  }

  function indicatorKind(code) {
    var row = (PAGE.tables.indicators ? rowsOf("indicators") : []).find(function (r) { return r.indicator === code; });
    return row ? row.kind : "share";
  }

  function valueAxis(kind) {
    if (kind === "share" || kind === "km") return shareAxis(t("chart.value"));
    return {title: {text: t("chart.value")}, rangemode: "tozero", gridcolor: "#dddddd"};
  }

  function releasesN(rows) {
    var total = rows.find(function (r) { return r.indicator === "releases"; });
    return total ? total.numerator : undefined;
  }

  // Headline shares of the selection, each with its interval.
  function headline(spec, sel) {
    var rows = spec.indicators.map(function (code) {
      return sel.rows.find(function (r) { return r.indicator === code; });
    }).filter(Boolean);
    var shown = rows.filter(function (r) { return r.value !== null; });
    var names = function (r) { return t("indicator." + r.indicator); };
    return {
      data: [{
        type: "scatter", mode: "markers+text", orientation: "h",
        x: shown.map(function (r) { return r.value; }), y: shown.map(names),
        text: shown.map(function (r) { return percent(r.value); }), textposition: "top center",
        error_x: errorBars(shown, "value", "ci_low", "ci_high"),
        marker: {color: PALETTE[0], size: 10}, name: t("chart.value"),
        hovertemplate: "%{y}: %{x:.1%}<extra></extra>"
      }],
      layout: baseLayout({xaxis: shareAxis(), yaxis: {automargin: true, autorange: "reversed"},
                          margin: {l: 20, r: 20, t: 10, b: 50}, showlegend: false,
                          height: 60 + 38 * Math.max(shown.length, 1)}),
      n: releasesN(sel.rows),
      notes: [suppressedNote(rows, "value", names)]
    };
  }

  // Shares per release year.
  function trend(spec, sel) {
    var years = SITE.years;
    var data = spec.indicators.map(function (code, i) {
      var rows = years.map(function (y) {
        return sel.rows.find(function (r) { return r.indicator === code && r.cohort === y; }) ||
          {value: null, ci_low: null, ci_high: null};
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
    return {data: data, layout: baseLayout({yaxis: shareAxis(), xaxis: {type: "category"}}),
            n: n, notes: []};
  }

  function employment(spec, sel) {
    var rows = sel.rows.slice().sort(function (a, b) { return a.day - b.day; });
    var shown = rows.filter(function (r) { return r.share !== null; });
    var first = rows[0];
    return {
      data: [{
        type: "scatter", mode: "lines+markers", x: shown.map(function (r) { return r.day; }),
        y: shown.map(function (r) { return r.share; }),
        error_y: errorBars(shown, "share", "ci_low", "ci_high"),
        line: {color: PALETTE[2]}, marker: {size: 9}, name: t("chart.share"),
        hovertemplate: "%{x}: %{y:.1%}<extra></extra>"
      }],
      layout: baseLayout({yaxis: shareAxis(), showlegend: false,
                          xaxis: {title: {text: t("chart.days")}, tickvals: [30, 90, 180, 365]}}),
      n: first ? first.n_observed : undefined,
      notes: [suppressedNote(rows, "share", function (r) { return String(r.day); })]
    };
  }

  var STAGES = ["n_referred", "n_accepted", "n_placed", "n_started", "n_retained_180"];

  function funnel(spec, sel) {
    var row = sel.rows[0];
    if (!row) return empty();
    var shown = STAGES.filter(function (s) { return row[s] !== null; });
    return {
      data: [{
        type: "funnel", y: shown.map(function (s) { return t("stage." + s); }),
        x: shown.map(function (s) { return row[s]; }), textinfo: "value+percent initial",
        marker: {color: shown.map(function (_, i) { return PALETTE[i]; })},
        connector: {line: {color: "#999999"}}
      }],
      layout: baseLayout({margin: {l: 140, r: 20, t: 10, b: 30}, showlegend: false}),
      n: row.n_referred,
      notes: [suppressedNote(STAGES.map(function (s) { return {s: s, v: row[s]}; }), "v",
                             function (o) { return t("stage." + o.s); })]
    };
  }

  function funnelPartners(spec, sel) {
    var rows = sel.rows.filter(function (r) { return r.partner_id !== "all"; });
    var total = sel.rows.find(function (r) { return r.partner_id === "all"; });
    rows.sort(function (a, b) { return (b.n_referred || 0) - (a.n_referred || 0); });
    var names = rows.map(function (r) { return label("partner_id", r.partner_id); });
    var data = STAGES.map(function (s, i) {
      return {type: "bar", orientation: "h", name: t("stage." + s), y: names,
              x: rows.map(function (r) { return r[s]; }), marker: {color: PALETTE[i]},
              hovertemplate: "%{y}: %{x}<extra>" + t("stage." + s) + "</extra>"};
    });
    return {data: data,
            layout: baseLayout({barmode: "group", height: 120 + 70 * Math.max(rows.length, 1),
                                yaxis: {automargin: true, autorange: "reversed"},
                                xaxis: {title: {text: t("chart.count")}, gridcolor: "#dddddd"},
                                margin: {l: 20, r: 20, t: 10, b: 50}}),
            n: total ? total.n_referred : undefined,
            notes: [suppressedNote(rows, "n_referred", function (r) {
              return label("partner_id", r.partner_id); })]};
  }

  // Kaplan-Meier curves as steps with their bands, one per series, and the numbers at risk.
  function curves(spec, sel) {
    var series = spec.series ? spec.series : [{key: null, value: null}];
    var data = [];
    var atRisk = [];
    var n = 0;
    series.forEach(function (s, i) {
      var rows = sel.rows.filter(function (r) { return !s.key || r[s.key] === s.value; });
      rows.sort(function (a, b) { return a.day - b.day; });
      if (!rows.length) return;
      var name = s.label ? t(s.label) : t("chart.value");
      var x = rows.map(function (r) { return r.day; });
      var colour = PALETTE[i];
      data.push({type: "scatter", mode: "lines", x: x, y: rows.map(function (r) {
        return r.ci_high; }), line: {width: 0, shape: "hv"}, showlegend: false,
        hoverinfo: "skip"});
      data.push({type: "scatter", mode: "lines", x: x, y: rows.map(function (r) {
        return r.ci_low; }), line: {width: 0, shape: "hv"}, fill: "tonexty",
        fillcolor: hexAlpha(colour, 0.18), showlegend: false, hoverinfo: "skip"});
      data.push({type: "scatter", mode: "lines", name: name, x: x,
                 y: rows.map(function (r) { return r.survival; }),
                 line: {color: colour, shape: "hv", width: 2.2, dash: DASHES[i]},
                 hovertemplate: "%{x}: %{y:.1%}<extra>" + name + "</extra>"});
      n += rows[0].n_at_risk;
      atRisk.push({name: name, values: SITE.at_risk_days.map(function (d) {
        var row = rows.find(function (r) { return r.day >= d; });
        return row ? row.n_at_risk : null;
      })});
    });
    if (!data.length) return empty();
    var lines = atRisk.map(function (a) {
      return "<b>" + a.name + "</b>: " + a.values.map(function (v, j) {
        return SITE.at_risk_days[j] + " " + t("chart.days") + ": " +
          (v === null ? "&lt;10" : number(v));
      }).join(" · ");
    });
    return {
      data: data,
      layout: baseLayout({yaxis: shareAxis(t("chart.share")), height: 380 + 18 * lines.length,
                          xaxis: {title: {text: t("chart.days")}, gridcolor: "#eeeeee"},
                          margin: {l: 60, r: 20, t: 40, b: 90 + 18 * lines.length},
                          annotations: [{xref: "paper", yref: "paper", x: 0, y: -0.2,
                                         yanchor: "top", xanchor: "left", align: "left",
                                         font: {size: 11},
                                         showarrow: false,
                                         text: t("chart.at_risk") + "<br>" + lines.join("<br>")}]}),
      n: n,
      notes: [t("note.curve_cut")]
    };
  }

  function hexAlpha(hex, alpha) {
    var v = parseInt(hex.slice(1), 16);
    return "rgba(" + [(v >> 16) & 255, (v >> 8) & 255, v & 255, alpha].join(",") + ")";
  }

  // Grouped dots with intervals on a two-level axis (measure x window).
  function rates(spec, sel) {
    var measures = SITE.measures;
    var windows = SITE.windows;
    var cats = [[], []];
    measures.forEach(function (m) {
      windows.forEach(function (w) {
        cats[0].push(t("measure." + m));
        cats[1].push(t("window." + w));
      });
    });
    var n = {};
    var hidden = [];
    var data = spec.groups.map(function (g, i) {
      var rows = [];
      measures.forEach(function (m) {
        windows.forEach(function (w) {
          var r = sel.rows.find(function (x) {
            return x.group === g && x.measure === m && x.window_months === w;
          }) || {rate: null, ci_low: null, ci_high: null, n_releases: null};
          if (r.rate === null) hidden.push(t("group." + g) + " " + t("measure." + m) + " " +
                                           t("window." + w));
          if (n[g] === undefined || (n[g] === null && r.n_releases !== null)) n[g] = r.n_releases;
          rows.push(r);
        });
      });
      return {type: "scatter", mode: "markers", name: t("group." + g), x: cats,
              y: rows.map(function (r) { return r.rate; }),
              error_y: errorBars(rows, "rate", "ci_low", "ci_high"),
              marker: {color: PALETTE[i], symbol: SYMBOLS[i], size: 10},
              hovertemplate: "%{y:.1%}<extra>" + t("group." + g) + "</extra>"};
    });
    return {data: data, layout: baseLayout({yaxis: shareAxis(), scattermode: "group",
                                            height: 420, margin: {l: 60, r: 20, t: 40, b: 110},
                                            xaxis: {type: "multicategory", tickangle: -90}}),
            n: spec.groups.map(function (g) {
              return t("group." + g) + " " + number(n[g]); }).join(", "),
            notes: [hidden.length ? t("chart.suppressed_list", {items: hidden.join("; ")}) :
              null]};
  }

  function effects(spec, sel) {
    var measures = SITE.measures;
    var windows = SITE.windows;
    var cats = [[], []];
    var rows = [];
    measures.forEach(function (m) {
      windows.forEach(function (w) {
        var r = sel.rows.find(function (x) { return x.measure === m && x.window_months === w; });
        if (!r) return;
        cats[0].push(t("measure." + m));
        cats[1].push(t("window." + w));
        rows.push(r);
      });
    });
    if (!rows.length) return empty();
    var data = [["difference", "chart.raw"], ["standardised_difference", "chart.standardised"]].map(
      function (pair, i) {
        var c = pair[0];
        return {type: "scatter", mode: "markers", name: t(pair[1]), x: cats,
                y: rows.map(function (r) { return r[c]; }),
                error_y: errorBars(rows, c, c + "_ci_low", c + "_ci_high"),
                marker: {color: PALETTE[i], symbol: SYMBOLS[i], size: 10},
                hovertemplate: "%{y:+.1%}<extra>" + t(pair[1]) + "</extra>"};
      });
    var first = rows[0];
    return {data: data,
            layout: baseLayout({scattermode: "group", height: 420,
                                margin: {l: 70, r: 20, t: 40, b: 110},
                                xaxis: {type: "multicategory", tickangle: -90},
                                yaxis: {title: {text: t("chart.difference")}, tickformat: "+.0%",
                                        zeroline: true, zerolinecolor: "#333333",
                                        gridcolor: "#dddddd"}}),
            n: t("group.participant") + " " + number(first.n_participants) + ", " +
               t("group.comparison") + " " + number(first.n_comparison),
            notes: [suppressedNote(rows, "difference", function (r) {
              return t("measure." + r.measure) + " " + t("window." + r.window_months); })]};
  }

  // One indicator per prison or partner, ranked, with intervals and the programme's value.
  function ranked(spec, sel) {
    var code = control(spec);
    var dim = spec.free[0];
    var rows = sel.rows.filter(function (r) { return r.indicator === code; });
    var total = rows.find(function (r) { return r[dim] === "all"; });
    var parts = rows.filter(function (r) { return r[dim] !== "all"; });
    var shown = parts.filter(function (r) { return r.value !== null; });
    shown.sort(function (a, b) { return b.value - a.value; });
    var names = shown.map(function (r) { return label(dim, r[dim]); });
    var kind = indicatorKind(code);
    var data = [{type: "scatter", mode: "markers", orientation: "h", x: shown.map(function (r) {
      return r.value; }), y: names, name: t("indicator." + code),
      error_x: errorBars(shown, "value", "ci_low", "ci_high"),
      marker: {color: PALETTE[0], size: 9},
      hovertemplate: "%{y}: %{x:" + (kind === "share" || kind === "km" ? ".1%" : ".2f") +
        "}<extra></extra>"}];
    var shapes = [];
    if (total && total.value !== null) {
      shapes.push({type: "line", xref: "x", yref: "paper", x0: total.value, x1: total.value,
                   y0: 0, y1: 1, line: {color: PALETTE[5], width: 2, dash: "dash"}});
      if (total.ci_low !== null && total.ci_high !== null) {
        shapes.push({type: "rect", xref: "x", yref: "paper", x0: total.ci_low, x1: total.ci_high,
                     y0: 0, y1: 1, fillcolor: hexAlpha(PALETTE[5], 0.12), line: {width: 0}});
      }
    }
    return {data: data,
            layout: baseLayout({xaxis: valueAxis(kind), shapes: shapes, showlegend: false,
                                yaxis: {automargin: true, autorange: "reversed"},
                                height: 90 + 28 * Math.max(shown.length, 1),
                                margin: {l: 20, r: 20, t: 10, b: 50}}),
            n: total ? (total.denominator !== null && total.denominator !== undefined ?
                        total.denominator : total.numerator) : undefined,
            notes: [t("chart.programme_value") + ": " + (total ? (kind === "share" ||
                    kind === "km" ? percent(total.value) : number(total.value, 2)) : "–"),
                    suppressedNote(parts, "value", function (r) { return label(dim, r[dim]); })]};
  }

  // Counts or shares by a category (end reasons, dropout by type, quarantine by reason...).
  function bars(spec, sel) {
    var dim = spec.category;
    var rows = sel.rows.filter(function (r) {
      return r[dim] !== "all" && (!spec.where || r[spec.where[0]] === spec.where[1]);
    });
    // The total row of the selection ("all" in the category; for a long break-down, the row
    // of no break-down at all).
    var total = sel.rows.find(function (r) { return r[dim] === "all"; });
    var names = function (r) { return label(spec.labels || dim, r[dim]); };
    var data = spec.values.map(function (v, i) {
      var shown = rows.filter(function (r) { return r[v.column] !== null; });
      var trace = {type: spec.mode === "dots" ? "scatter" : "bar", orientation: "h",
                   name: t(v.label), y: shown.map(names),
                   x: shown.map(function (r) { return r[v.column]; }),
                   marker: {color: PALETTE[i], size: 10}};
      if (spec.mode === "dots") {
        trace.mode = "markers";
        trace.error_x = errorBars(shown, v.column, "ci_low", "ci_high");
      }
      return trace;
    });
    var axis = spec.share ? shareAxis(t(spec.values[0].label)) :
      {title: {text: t("chart.count")}, gridcolor: "#dddddd"};
    return {data: data,
            layout: baseLayout({barmode: "stack", xaxis: axis, showlegend: data.length > 1,
                                yaxis: {automargin: true, autorange: "reversed"},
                                height: 110 + 30 * Math.max(rows.length, 1),
                                margin: {l: 20, r: 20, t: 10, b: 50}}),
            n: total ? total[spec.n] : undefined,
            notes: [suppressedNote(rows, spec.values[0].column, names)]};
  }

  function validation(spec) {
    var rows = PAGE.validation || [];
    // A mart added upstream without a message yet shows under its own name.
    var names = rows.map(function (r) {
      return (MESSAGES[state.lang] || MESSAGES.en)["table." + r.table] !== undefined ?
        t("table." + r.table) : r.table;
    });
    return {data: [
      {type: "bar", orientation: "h", name: t("chart.passed"), y: names,
       x: rows.map(function (r) { return r.passed; }), marker: {color: PALETTE[2]}},
      {type: "bar", orientation: "h", name: t("chart.failed"), y: names,
       x: rows.map(function (r) { return r.failed; }), marker: {color: PALETTE[5]}}],
            layout: baseLayout({barmode: "stack", height: 110 + 28 * Math.max(rows.length, 1),
                                yaxis: {automargin: true, autorange: "reversed"},
                                xaxis: {title: {text: t("chart.count")}},
                                margin: {l: 20, r: 20, t: 10, b: 50}}),
            n: rows.reduce(function (a, r) { return a + r.passed + r.failed; }, 0),
            notes: []};
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

  // Every effect of the rate outcome: the difference in percentage points with its 95 %
  // interval, matched and weighted, a line at no difference.
  function forest(spec, sel) {
    if (noEffects(state.programme)) return empty(spec.empty);
    var cats = [];
    SITE.measures.forEach(function (m) {
      SITE.windows.forEach(function (w) { cats.push(effectLabel(m, w)); });
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
        x: rows.map(function (r) { return 100 * r.difference; }),
        y: rows.map(function (r) { return effectLabel(r.measure, r.window_months); }),
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
    return {
      data: data,
      layout: baseLayout({
        scattermode: "group", scattergap: 0.5, height: 140 + 34 * cats.length,
        margin: {l: 20, r: 30, t: 40, b: 60},
        xaxis: {title: {text: t("chart.points")}, zeroline: false, gridcolor: "#dddddd",
                ticksuffix: ""},
        yaxis: {type: "category", categoryorder: "array", categoryarray: cats,
                autorange: "reversed", automargin: true, range: [cats.length - 0.5, -0.5]},
        shapes: [{type: "line", xref: "x", yref: "paper", x0: 0, x1: 0, y0: 0, y1: 1,
                  line: {color: "#333333", width: 1.5}}]
      }),
      n: effectN(sel),
      notes: missingEffects(spec, sel, "difference").concat([t("note.negative_fewer")])
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
        xaxis: {title: {text: t("chart.smd")}, zeroline: false, gridcolor: "#eeeeee"},
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
      SITE.windows.forEach(function (w) { cats.push(effectLabel(m, w)); });
    });
    var max = 1;
    var data = [];
    spec.estimators.forEach(function (e, i) {
      var rows = sel.rows.filter(function (r) {
        return r.estimator === e && r.is_estimated && r.e_value !== null; });
      rows.forEach(function (r) { max = Math.max(max, r.e_value); });
      var name = t("estimator." + e);
      data.push({type: "scatter", mode: "markers+text", orientation: "h", name: name,
                 legendgroup: e,
                 x: rows.map(function (r) { return r.e_value; }),
                 y: rows.map(function (r) { return effectLabel(r.measure, r.window_months); }),
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
    return {
      data: data,
      layout: baseLayout({
        scattermode: "group", scattergap: 0.3, height: 140 + 44 * cats.length,
        margin: {l: 20, r: 20, t: 40, b: 60},
        xaxis: {title: {text: t("chart.e_value_axis")}, range: [0.8, Math.ceil(max * 1.25)],
                gridcolor: "#dddddd", zeroline: false},
        yaxis: {type: "category", categoryorder: "array", categoryarray: cats,
                range: [cats.length - 0.5, -0.5], automargin: true},
        shapes: [{type: "line", xref: "x", yref: "paper", x0: 1, x1: 1, y0: 0, y1: 1,
                  line: {color: "#333333", width: 1.5}}]
      }),
      n: effectN(sel),
      notes: missingEffects(spec, sel, "e_value").concat([t("note.evalue_read")])
    };
  }

  function empty(message) {
    return {data: [], layout: baseLayout({xaxis: {visible: false}, yaxis: {visible: false},
      annotations: [{text: t(message || "site.no_rows"), showarrow: false, font: {size: 15}}]}),
            n: undefined, notes: []};
  }

  var RENDERERS = {headline: headline, trend: trend, employment: employment, funnel: funnel,
                   funnel_partners: funnelPartners, curves: curves, rates: rates,
                   effects: effects, ranked: ranked, bars: bars, validation: validation,
                   verdicts: verdicts, forest: forest, love: love, overlap: overlap,
                   support: support, evalues: evalues};

  // ---------------------------------------------------------------- page
  function translateStatic() {
    document.documentElement.lang = state.lang;
    document.querySelectorAll("[data-i18n]").forEach(function (el) {
      el.textContent = t(el.getAttribute("data-i18n"), {
        programme: programmeName(state.programme), date: SITE.as_of,
        version: SITE.data_version.slice(0, 12)});
    });
    document.querySelectorAll("button[data-lang]").forEach(function (b) {
      b.setAttribute("aria-pressed", b.getAttribute("data-lang") === state.lang);
    });
    document.title = t("nav." + PAGE.page) + " – " + t("site.title");
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
    var figure = sel.rows.length || spec.kind === "validation" || spec.empty ?
      RENDERERS[spec.kind](spec, sel) : empty();
    var meta = [];
    if (figure.n === null) meta.push(t("chart.n_suppressed"));
    else if (figure.n !== undefined) meta.push(t("chart.n", {n: typeof figure.n === "number" ?
                                                             number(figure.n) : figure.n}));
    meta.push(t("chart.as_of", {date: SITE.as_of}));
    card.querySelector(".meta").textContent = meta.join(" · ");
    var notes = sel.notes.concat(figure.notes).filter(Boolean);
    card.querySelector(".notes").textContent = notes.join(" ");
    if (spec.html) {
      card.querySelector(".text").innerHTML = figure.html;
      return Promise.resolve();
    }
    var plot = card.querySelector(".plot");
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
