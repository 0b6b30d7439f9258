/* spreadwatch dashboard: a Telegram Mini App, and a plain read-only page outside Telegram.
 *
 * Inside Telegram the client passes the Mini App's launch data in the URL fragment (tgWebAppData: the signed
 * initData; tgWebAppThemeParams: the theme colours) and later events (theme_changed) through
 * window.Telegram.WebView.receiveEvent (mobile and desktop apps) or postMessage (web clients). This file reads
 * them itself rather than loading telegram-web-app.js from telegram.org, so nothing is fetched from elsewhere.
 * initData is sent with every request about the reader's own settings (Authorization: tma <initData>); the
 * server checks its signature. Public data needs none.
 */
(function () {
  'use strict';

  var T = {
    zh: {
      tab_spread: '分化', tab_industries: '行业', tab_scenarios: '情景', tab_settings: '设置',
      spread: '分化度', percentile: '分位', p50: '历史P50', p90: '历史P90', episodes: '提醒区间',
      top5: '涨幅前五', bottom5: '涨幅后五', all: '全部', y1: '1年', y3: '3年', y5: '5年',
      ranked_title: '各行业近六个月涨幅排名', heatmap_title: '近24个月：各行业六个月涨幅（月末）',
      gain: '六个月涨幅', rank: '排名', scenario_history: '情景历史（红：触发，黄：关注，灰：未知）',
      macro: '宏观', heat: '热度估值', reversal: '景气反转', breadth: '主题扩散', composite: '收敛风险',
      on: '触发', watch: '关注', unknown: '未知', off: '未触发',
      subscribed: '订阅提醒', language: '语言', threshold: '个人阈值', mute: '静音',
      default_thr: '默认（P{p}）', no_mute: '不静音', mute_n: '{n}天', unmute: '取消静音',
      muted_until: '静音至 {d}', saved: '已保存', save_failed: '保存失败：{e}',
      no_data: '暂无数据：每日任务完成首次数据更新后即可查看。',
      open_in_telegram: '请在 Telegram 中通过机器人打开此看板。',
      as_of: '数据截至 {d}', stale: '（数据可能已过期）', synthetic: '（合成示例数据，非真实行情）',
      tap_industry: '点击行业查看其涨幅与排名走势', rank_of: '排名（共{n}）', load_failed: '加载失败：{e}',
      episode: '提醒', open: '进行中'
    },
    en: {
      tab_spread: 'Spread', tab_industries: 'Industries', tab_scenarios: 'Scenarios', tab_settings: 'Settings',
      spread: 'Spread', percentile: 'Percentile', p50: 'History P50', p90: 'History P90', episodes: 'Alert episodes',
      top5: 'Top five', bottom5: 'Bottom five', all: 'All', y1: '1y', y3: '3y', y5: '5y',
      ranked_title: 'Six-month gains of every industry, ranked', heatmap_title: 'Last 24 months: six-month gain by industry (month end)',
      gain: 'Six-month gain', rank: 'Rank', scenario_history: 'Scenario history (red: on, yellow: watch, grey: unknown)',
      macro: 'Macro', heat: 'Heat', reversal: 'Reversal', breadth: 'Breadth', composite: 'Convergence risk',
      on: 'on', watch: 'watch', unknown: 'unknown', off: 'off',
      subscribed: 'Alerts subscribed', language: 'Language', threshold: 'Personal threshold', mute: 'Mute',
      default_thr: 'Default (P{p})', no_mute: 'Not muted', mute_n: '{n} days', unmute: 'Unmute',
      muted_until: 'Muted until {d}', saved: 'Saved', save_failed: 'Not saved: {e}',
      no_data: 'No data yet: the dashboard fills once the daily job has stored the first data.',
      open_in_telegram: 'Open this dashboard from the bot in Telegram.',
      as_of: 'Data as of {d}', stale: ' (may be stale)', synthetic: ' (synthetic sample data, not market data)',
      tap_industry: 'Tap an industry for its gain and rank over time', rank_of: 'Rank (of {n})', load_failed: 'Could not load: {e}',
      episode: 'Alert', open: 'open'
    }
  };
  var SCENARIOS = ['composite', 'macro', 'heat', 'reversal', 'breadth'];
  var STATE_VALUE = { on: 3, watch: 2, unknown: 1 };

  // -- Telegram ------------------------------------------------------------------------------------
  var launch = new URLSearchParams(location.hash.slice(1));
  var initData = launch.get('tgWebAppData') || '';
  var inTelegram = initData !== '';
  var tgUser = null;
  try { tgUser = JSON.parse(new URLSearchParams(initData).get('user') || 'null'); } catch (e) { tgUser = null; }

  function postEvent(type, data) {
    var payload = JSON.stringify(data || {});
    try {
      if (window.TelegramWebviewProxy) { window.TelegramWebviewProxy.postEvent(type, payload); }
      else if (window.external && 'notify' in window.external) { window.external.notify(JSON.stringify({ eventType: type, eventData: data || {} })); }
      else if (window.parent !== window) { window.parent.postMessage(JSON.stringify({ eventType: type, eventData: data || {} }), '*'); }
    } catch (e) { /* not inside Telegram */ }
  }

  var THEME_VARS = { bg_color: '--bg', text_color: '--text', hint_color: '--hint', link_color: '--link',
    button_color: '--button', button_text_color: '--button-text', secondary_bg_color: '--card' };
  function applyTheme(params) {
    if (!params) { return; }
    var root = document.documentElement;
    root.classList.add('tg');
    Object.keys(THEME_VARS).forEach(function (k) {
      if (typeof params[k] === 'string' && /^#[0-9a-fA-F]{3,8}$/.test(params[k])) { root.style.setProperty(THEME_VARS[k], params[k]); }
    });
    if (params.bg_color) { root.style.setProperty('--grid', isDark() ? '#2f3b4a' : '#e5e7eb'); }
    redraw();
  }
  function receiveEvent(type, data) {
    if (type === 'theme_changed' && data) { applyTheme(data.theme_params); }
  }
  window.Telegram = window.Telegram || {};
  window.Telegram.WebView = window.Telegram.WebView || {};
  if (!window.Telegram.WebView.receiveEvent) { window.Telegram.WebView.receiveEvent = receiveEvent; }
  window.addEventListener('message', function (ev) {
    if (ev.source !== window.parent) { return; }
    try { var m = JSON.parse(ev.data); if (m && m.eventType) { receiveEvent(m.eventType, m.eventData); } } catch (e) { /* not ours */ }
  });

  // -- helpers -------------------------------------------------------------------------------------
  var lang = 'zh';
  var meta = null;
  var charts = {};
  var data = {};
  function t(key, vars) {
    var s = (T[lang] && T[lang][key]) || T.en[key] || key;
    Object.keys(vars || {}).forEach(function (k) { s = s.replace('{' + k + '}', vars[k]); });
    return s;
  }
  function $(id) { return document.getElementById(id); }
  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) { return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]; });
  }
  function css(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }
  function isDark() {
    var m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})/i.exec(css('--bg'));
    if (!m) { return false; }
    var lum = 0.2126 * parseInt(m[1], 16) + 0.7152 * parseInt(m[2], 16) + 0.0722 * parseInt(m[3], 16);
    return lum < 128;
  }
  function fmt(v, digits) { return v === null || v === undefined ? '—' : Number(v).toFixed(digits === undefined ? 1 : digits); }
  // a percentile is cut, never rounded (92.69 reads P92), as in every message and chart of the service
  function pctl(v) { return v === null || v === undefined ? '—' : 'P' + Math.floor(Number(v)); }
  function signed(v) { return (v > 0 ? '+' : '') + fmt(v, 1) + '%'; }
  function name(item) { return lang === 'en' ? item[2] : item[1]; }
  function industryName(r) { return lang === 'en' ? r.name_en : r.name; }

  function api(path, options) {
    var headers = {};
    if (options && options.auth) { headers.Authorization = 'tma ' + initData; }
    if (options && options.body) { headers['Content-Type'] = 'application/json'; }
    return fetch(path, { method: (options && options.method) || 'GET', headers: headers,
      body: options && options.body ? JSON.stringify(options.body) : undefined }).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) { throw new Error(body && body.error ? body.error : 'HTTP ' + r.status); }
        return body;
      });
    });
  }

  function chart(id) {
    if (!charts[id]) { charts[id] = window.echarts.init($(id), null, { renderer: 'canvas' }); }
    return charts[id];
  }
  function base() {
    var text = css('--text'), hint = css('--hint'), grid = css('--grid');
    return {
      text: text, hint: hint, grid: grid,
      axis: { axisLine: { lineStyle: { color: hint } }, axisLabel: { color: hint }, splitLine: { lineStyle: { color: grid } } },
      tooltip: { backgroundColor: css('--card'), borderColor: grid, textStyle: { color: text, fontSize: 12 }, confine: true }
    };
  }

  // -- pages ---------------------------------------------------------------------------------------
  var current = 'spread';
  function show(tab) {
    current = tab;
    document.querySelectorAll('#tabs button').forEach(function (b) { b.setAttribute('aria-selected', String(b.dataset.tab === tab)); });
    document.querySelectorAll('section[data-page]').forEach(function (s) { s.hidden = s.dataset.page !== tab || noData(); });
    load(tab);
  }
  function noData() { return meta !== null && !meta.has_data; }

  function load(tab) {
    if (noData()) { return Promise.resolve(); }
    var done;
    if (tab === 'spread') { done = loadSpread(); }
    else if (tab === 'industries') { done = loadIndustries(); }
    else if (tab === 'scenarios') { done = loadScenarios(); }
    else { done = loadSettings(); }
    return done.then(function () { document.body.dataset[tab] = 'ready'; }, function (e) {
      $('notice').hidden = false; $('notice').textContent = t('load_failed', { e: e.message });
      document.body.dataset[tab] = 'failed';
    });
  }
  function redraw() {
    if (data.spread) { drawSpread(); }
    if (data.industries) { drawIndustries(); }
    if (data.industry) { drawIndustry(); }
    if (data.scenarios) { drawScenarios(); }
  }

  // spread -----------------------------------------------------------------------------------------
  var zoomYears = null;
  function loadSpread() {
    if (data.spread) { drawSpread(); return Promise.resolve(); }
    return Promise.all([api('api/spread'), api('api/scenarios?lang=' + lang).catch(function () { return null; })]).then(function (r) {
      data.spread = r[0];
      if (r[1]) { data.scenarios = r[1]; }
      if (!data.spread.days) { showEmpty(); return; }
      drawSpread();
    });
  }
  function bandCells(dates, runs) {
    var at = {};
    dates.forEach(function (d, i) { at[d] = i; });
    var cells = [];
    SCENARIOS.forEach(function (s, y) {
      ((runs && runs[s]) || []).forEach(function (run) {
        var a = at[run[0]], b = at[run[1]];
        if (a === undefined || b === undefined) { return; }
        for (var i = a; i <= b; i++) { cells.push([i, y, STATE_VALUE[run[2]]]); }
      });
    });
    return cells;
  }
  function bandVisual(seriesIndex) {
    return { type: 'piecewise', show: false, seriesIndex: seriesIndex, dimension: 2,
      pieces: [{ value: 3, color: '#d64541' }, { value: 2, color: '#e0a800' }, { value: 1, color: '#9aa5b1' }] };
  }
  function zoomStart(dates) {
    if (!zoomYears) { return 0; }
    var last = new Date(dates[dates.length - 1]);
    last.setFullYear(last.getFullYear() - zoomYears);
    var from = last.toISOString().slice(0, 10);
    var i = dates.findIndex(function (d) { return d >= from; });
    return Math.max(0, i) / dates.length * 100;
  }
  function dayPanel(i) {
    var s = data.spread, items = s.industries;
    var list = function (idx) {
      return idx.map(function (k) { return esc(name(items[k])); }).join(lang === 'zh' ? '、' : ', ');
    };
    $('day').innerHTML = '<b>' + esc(s.dates[i]) + '</b> · ' + esc(t('spread')) + ' <b>' + fmt(s.spread[i], 1) +
      '</b> · ' + esc(t('percentile')) + ' <b>' + pctl(s.percentile[i]) + '</b>' +
      '<div class="cols"><div><span class="up">▲ ' + esc(t('top5')) + '</span><br>' + list(s.top[i]) +
      '</div><div><span class="down">▼ ' + esc(t('bottom5')) + '</span><br>' + list(s.bottom[i]) + '</div></div>';
  }
  function drawSpread() {
    var s = data.spread, b = base();
    if (!s || !s.days) { return; }
    var last = s.dates.length - 1;
    var runs = data.scenarios && data.scenarios.history ? data.scenarios.history.runs : null;
    var episodes = s.episodes.map(function (e) {
      return [{ xAxis: e.start }, { xAxis: e.end || s.dates[last] }];
    });
    var c = chart('chart-spread');
    c.setOption({
      animation: false,
      textStyle: { color: b.text },
      grid: [{ left: 40, right: 12, top: 28, bottom: 150 }, { left: 40, right: 12, height: 60, bottom: 58 }],
      legend: undefined,
      tooltip: Object.assign({}, b.tooltip, { trigger: 'axis', axisPointer: { type: 'cross', link: [{ xAxisIndex: 'all' }] },
        formatter: function (ps) {
          var i = ps[0].dataIndex;
          dayPanel(i);
          var items = s.industries;
          return '<b>' + esc(s.dates[i]) + '</b><br>' + esc(t('spread')) + ': <b>' + fmt(s.spread[i], 1) + '</b> (' + pctl(s.percentile[i]) + ')<br>' +
            '<span class="up">▲</span> ' + s.top[i].map(function (k) { return esc(name(items[k])); }).join(', ') + '<br>' +
            '<span class="down">▼</span> ' + s.bottom[i].map(function (k) { return esc(name(items[k])); }).join(', ');
        } }),
      axisPointer: { link: [{ xAxisIndex: 'all' }] },
      xAxis: [
        Object.assign({ type: 'category', data: s.dates, gridIndex: 0, boundaryGap: false, axisLabel: { show: false } }, { axisLine: b.axis.axisLine }),
        Object.assign({ type: 'category', data: s.dates, gridIndex: 1, boundaryGap: false }, { axisLine: b.axis.axisLine, axisLabel: { color: b.hint } })
      ],
      yAxis: [
        Object.assign({ type: 'value', gridIndex: 0, scale: true }, b.axis),
        { type: 'category', gridIndex: 1, data: SCENARIOS.map(function (x) { return t(x); }), inverse: true,
          axisLabel: { color: b.hint, fontSize: 9 }, axisLine: b.axis.axisLine, axisTick: { show: false } }
      ],
      dataZoom: [{ type: 'inside', xAxisIndex: [0, 1], start: zoomStart(s.dates), end: 100 },
        { type: 'slider', xAxisIndex: [0, 1], height: 22, bottom: 8, start: zoomStart(s.dates), end: 100,
          textStyle: { color: b.hint }, borderColor: b.grid }],
      visualMap: [bandVisual(3)],
      series: [
        { name: t('spread'), type: 'line', data: s.spread, showSymbol: false, lineStyle: { width: 1.4, color: css('--link') },
          itemStyle: { color: css('--link') }, sampling: 'lttb',
          markArea: { silent: true, itemStyle: { color: 'rgba(214,69,65,0.15)' }, data: episodes } },
        { name: t('p50'), type: 'line', data: s.p50, showSymbol: false, lineStyle: { width: 1, type: 'dashed', color: '#8a8a8a' }, itemStyle: { color: '#8a8a8a' } },
        { name: t('p90'), type: 'line', data: s.p90, showSymbol: false, lineStyle: { width: 1, type: 'dashed', color: '#d64541' }, itemStyle: { color: '#d64541' } },
        { name: 'bands', type: 'heatmap', xAxisIndex: 1, yAxisIndex: 1, data: bandCells(s.dates, runs), progressive: 0 }
      ]
    }, true);
    dayPanel(last);
    var ranges = $('ranges');
    ranges.innerHTML = '';
    [[1, 'y1'], [3, 'y3'], [5, 'y5'], [null, 'all']].forEach(function (r) {
      var btn = document.createElement('button');
      btn.textContent = t(r[1]);
      btn.className = zoomYears === r[0] ? 'on' : '';
      btn.onclick = function () { zoomYears = r[0]; drawSpread(); };
      ranges.appendChild(btn);
    });
  }

  // industries -------------------------------------------------------------------------------------
  function loadIndustries() {
    if (data.industries) { drawIndustries(); return Promise.resolve(); }
    return api('api/industries').then(function (r) {
      data.industries = r;
      if (!r.days) { showEmpty(); return; }
      drawIndustries();
    });
  }
  function leaders(r) {
    var k = r.k, top = r.ranked.slice(0, k), bottom = r.ranked.slice(-k).reverse();
    var row = function (g, cls) {
      return '<tr data-code="' + esc(g.code) + '" data-gain="' + g.gain + '" data-rank="' + g.rank + '" class="' + cls + '"><td>' + g.rank +
        '</td><td>' + esc(industryName(g)) + '</td><td class="num ' + (g.gain >= 0 ? 'up' : 'down') + '">' + signed(g.gain) + '</td></tr>';
    };
    var html = '<tr><th colspan="3" class="up">▲ ' + esc(t('top5')) + '</th></tr>' + top.map(function (g) { return row(g, 'top'); }).join('') +
      '<tr><th colspan="3" class="down">▼ ' + esc(t('bottom5')) + '</th></tr>' + bottom.map(function (g) { return row(g, 'bottom'); }).join('');
    $('leaders').innerHTML = html;
    $('leaders').querySelectorAll('tr[data-code]').forEach(function (tr) { tr.onclick = function () { openIndustry(tr.dataset.code); }; });
  }
  function drawIndustries() {
    var r = data.industries, b = base();
    if (!r || !r.days) { return; }
    leaders(r);
    var k = r.k, n = r.ranked.length;
    var names = r.ranked.map(industryName);
    $('chart-ranked').style.height = Math.max(300, n * 20 + 40) + 'px';
    var ranked = chart('chart-ranked');
    ranked.resize();
    ranked.setOption({
      animation: false, textStyle: { color: b.text },
      grid: { left: 8, right: 48, top: 8, bottom: 8, containLabel: true },
      tooltip: Object.assign({}, b.tooltip, { trigger: 'axis', axisPointer: { type: 'shadow' },
        formatter: function (ps) { var g = r.ranked[ps[0].dataIndex]; return esc(industryName(g)) + ' #' + g.rank + ': <b>' + signed(g.gain) + '</b>'; } }),
      xAxis: Object.assign({ type: 'value' }, b.axis),
      yAxis: { type: 'category', data: names, inverse: true, axisLabel: { color: b.text, fontSize: 11 }, axisLine: b.axis.axisLine, axisTick: { show: false } },
      series: [{ type: 'bar', barWidth: '70%',
        data: r.ranked.map(function (g, i) {
          var color = i < k ? '#d64541' : (i >= n - k ? '#2e8b57' : '#9aa5b1');
          return { value: g.gain, itemStyle: { color: color } };
        }),
        label: { show: true, position: 'right', color: b.hint, fontSize: 10, formatter: function (p) { return fmt(p.value, 1); } } }]
    }, true);
    ranked.off('click');
    ranked.on('click', function (p) { openIndustry(r.ranked[p.dataIndex].code); });

    var h = r.heatmap, byCode = {};
    r.ranked.forEach(function (g) { byCode[g.code] = g; });
    var values = h.cells.map(function (c) { return c[2]; });
    var lim = Math.max(10, Math.ceil(Math.max.apply(null, values.map(Math.abs)) / 10) * 10);
    $('chart-heatmap').style.height = Math.max(320, h.codes.length * 18 + 90) + 'px';
    var heat = chart('chart-heatmap');
    heat.resize();
    heat.setOption({
      animation: false, textStyle: { color: b.text },
      grid: { left: 8, right: 8, top: 8, bottom: 56, containLabel: true },
      tooltip: Object.assign({}, b.tooltip, { formatter: function (p) {
        var g = byCode[h.codes[p.data[1]]];
        return esc(industryName(g)) + ' · ' + esc(h.days[p.data[0]]) + ': <b>' + signed(p.data[2]) + '</b>';
      } }),
      xAxis: { type: 'category', data: h.months.map(function (m) { return m.slice(2); }), axisLabel: { color: b.hint, fontSize: 9, rotate: 90 }, axisLine: b.axis.axisLine },
      yAxis: { type: 'category', data: h.codes.map(function (c) { return industryName(byCode[c]); }), inverse: true,
        axisLabel: { color: b.text, fontSize: 10 }, axisLine: b.axis.axisLine, triggerEvent: true },
      visualMap: { type: 'continuous', min: -lim, max: lim, calculable: false, orient: 'horizontal', left: 'center', bottom: 0,
        itemHeight: 160, itemWidth: 10, textStyle: { color: b.hint, fontSize: 10 },
        inRange: { color: ['#2e8b57', '#a8d5ba', isDark() ? '#2a3441' : '#f5f5f5', '#f2a7a5', '#d64541'] } },
      series: [{ type: 'heatmap', data: h.cells, progressive: 0 }]
    }, true);
    heat.off('click');
    heat.on('click', function (p) {
      if (p.componentType === 'yAxis') { openIndustry(h.codes[p.dataIndex !== undefined ? p.dataIndex : h.codes.indexOf(p.value)] || codeByName(p.value)); }
      else if (p.data) { openIndustry(h.codes[p.data[1]]); }
    });
    function codeByName(v) { var g = r.ranked.find(function (x) { return industryName(x) === v; }); return g ? g.code : null; }
  }
  function openIndustry(code) {
    if (!code) { return; }
    return api('api/industry/' + encodeURIComponent(code)).then(function (r) {
      data.industry = r;
      $('industry').hidden = false;
      drawIndustry();
      document.body.dataset.industry = code;
    });
  }
  function drawIndustry() {
    var r = data.industry, b = base();
    $('industry-title').textContent = (lang === 'en' ? r.name_en : r.name) + ' · ' + t('gain') + ' / ' + t('rank');
    var c = chart('chart-industry');
    c.setOption({
      animation: false, textStyle: { color: b.text },
      grid: { left: 44, right: 40, top: 24, bottom: 60 },
      tooltip: Object.assign({}, b.tooltip, { trigger: 'axis', formatter: function (ps) {
        var i = ps[0].dataIndex;
        return esc(r.dates[i]) + '<br>' + esc(t('gain')) + ': <b>' + signed(r.gain[i]) + '</b><br>' + esc(t('rank')) + ': <b>' + r.rank[i] + '</b> / ' + r.n_ranked[i];
      } }),
      xAxis: { type: 'category', data: r.dates, boundaryGap: false, axisLabel: { color: b.hint }, axisLine: b.axis.axisLine },
      yAxis: [Object.assign({ type: 'value', name: t('gain') + ' %', nameTextStyle: { color: b.hint } }, b.axis),
        { type: 'value', inverse: true, min: 1, max: Math.max.apply(null, r.n_ranked), name: t('rank'), nameTextStyle: { color: b.hint },
          axisLabel: { color: b.hint }, splitLine: { show: false } }],
      dataZoom: [{ type: 'inside', start: 70, end: 100 }, { type: 'slider', height: 20, bottom: 8, start: 70, end: 100, textStyle: { color: b.hint } }],
      series: [{ type: 'line', data: r.gain, showSymbol: false, lineStyle: { width: 1.4, color: css('--link') }, itemStyle: { color: css('--link') } },
        { type: 'line', yAxisIndex: 1, data: r.rank, showSymbol: false, step: 'middle', lineStyle: { width: 1, color: '#e0a800' }, itemStyle: { color: '#e0a800' } }]
    }, true);
  }

  // scenarios --------------------------------------------------------------------------------------
  function loadScenarios() {
    var need = [data.scenarios ? Promise.resolve(data.scenarios) : api('api/scenarios?lang=' + lang),
      data.spread ? Promise.resolve(data.spread) : api('api/spread')];
    return Promise.all(need).then(function (r) {
      data.scenarios = r[0]; data.spread = r[1];
      drawScenarios();
    });
  }
  function drawScenarios() {
    var sc = data.scenarios, b = base();
    $('scenario-cards').innerHTML = sc.now.map(function (s) {
      // html: the bot's own phrasing of the scenario, rendered server-side from templates (escaped there)
      return '<div class="card scenario ' + esc(s.state) + '" data-scenario="' + esc(s.scenario) + '" data-state="' + esc(s.state) + '">' + s.html + '</div>';
    }).join('') || '<p class="hint">—</p>';
    var s = data.spread;
    if (!s || !s.days || !sc.history) { return; }
    var c = chart('chart-scenarios');
    c.setOption({
      animation: false, textStyle: { color: b.text },
      grid: { left: 8, right: 12, top: 8, bottom: 50, containLabel: true },
      tooltip: Object.assign({}, b.tooltip, { formatter: function (p) {
        return esc(t(SCENARIOS[p.data[1]])) + ' · ' + esc(s.dates[p.data[0]]) + ': ' + esc(t({ 3: 'on', 2: 'watch', 1: 'unknown' }[p.data[2]]));
      } }),
      xAxis: { type: 'category', data: s.dates, axisLabel: { color: b.hint }, axisLine: b.axis.axisLine },
      yAxis: { type: 'category', data: SCENARIOS.map(function (x) { return t(x); }), inverse: true, axisLabel: { color: b.text }, axisLine: b.axis.axisLine },
      dataZoom: [{ type: 'inside' }, { type: 'slider', height: 20, bottom: 8, textStyle: { color: b.hint } }],
      visualMap: [bandVisual(0)],
      series: [{ type: 'heatmap', data: bandCells(s.dates, sc.history.runs), progressive: 0 }]
    }, true);
  }

  // settings ---------------------------------------------------------------------------------------
  var me = null;
  function loadSettings() {
    return api('api/me', { auth: true }).then(function (r) { me = r; drawSettings(); });
  }
  function drawSettings() {
    var f = $('settings');
    f.subscribed.checked = me.subscribed;
    f.lang.value = me.lang;
    f.threshold.innerHTML = '<option value="">' + esc(t('default_thr', { p: fmt(me.default_threshold, 0) })) + '</option>' +
      me.choices.threshold.map(function (p) { return '<option value="' + p + '">P' + p + '</option>'; }).join('');
    f.threshold.value = me.threshold === null ? '' : String(Math.round(me.threshold));
    f.mute_days.innerHTML = me.choices.mute_days.map(function (d) {
      return '<option value="' + d + '">' + esc(d === 0 ? (me.muted_until ? t('unmute') : t('no_mute')) : t('mute_n', { n: d })) + '</option>';
    }).join('');
    f.mute_days.value = '0';
    $('settings-state').textContent = me.muted_until ? t('muted_until', { d: me.muted_until }) : '';
  }
  function saveSetting(field, value) {
    var body = {};
    body[field] = value;
    return api('api/me', { auth: true, method: 'POST', body: body }).then(function (r) {
      me = r;
      if (field === 'lang' && r.lang !== lang) { setLang(r.lang); }
      drawSettings();
      $('settings-state').textContent = t('saved') + (me.muted_until ? ' · ' + t('muted_until', { d: me.muted_until }) : '');
      document.body.dataset.saved = field;
    }, function (e) { $('settings-state').textContent = t('save_failed', { e: e.message }); });
  }
  function bindSettings() {
    var f = $('settings');
    f.subscribed.onchange = function () { saveSetting('subscribed', f.subscribed.checked); };
    f.lang.onchange = function () { saveSetting('lang', f.lang.value); };
    f.threshold.onchange = function () { saveSetting('threshold', f.threshold.value === '' ? null : Number(f.threshold.value)); };
    f.mute_days.onchange = function () { saveSetting('mute_days', Number(f.mute_days.value)); };
  }

  // -- start ---------------------------------------------------------------------------------------
  function showEmpty() {
    $('empty').hidden = false;
    $('empty').textContent = t('no_data');
    document.querySelectorAll('section[data-page]').forEach(function (s) { s.hidden = true; });
    document.body.dataset.empty = 'true';
  }
  function setLang(l) {
    lang = T[l] ? l : 'en';
    document.documentElement.lang = lang;
    document.querySelectorAll('#tabs button').forEach(function (b) { b.textContent = t('tab_' + b.dataset.tab); });
    document.querySelectorAll('[data-t]').forEach(function (el) { el.textContent = t(el.dataset.t); });
    status();
    if (data.scenarios) {
      delete data.scenarios;
      if (current === 'scenarios' || current === 'spread') { load(current); }
    }
    redraw();
    document.body.dataset.lang = lang;
  }
  function status() {
    if (!meta) { return; }
    $('status').textContent = meta.has_data ? t('as_of', { d: meta.as_of }) + (meta.stale ? t('stale') : '') + (meta.synthetic ? t('synthetic') : '') : '';
  }
  function pickLang(defaultLang) {
    var asked = new URLSearchParams(location.search).get('lang');
    if (asked && T[asked]) { return asked; }
    var code = ((tgUser && tgUser.language_code) || (navigator.languages && navigator.languages[0]) || navigator.language || '').toLowerCase();
    if (code === 'zh' || code.indexOf('zh-') === 0) { return 'zh'; }
    if (code === 'en' || code.indexOf('en-') === 0) { return 'en'; }
    return defaultLang;
  }

  function start() {
    if (inTelegram) {
      try { applyTheme(JSON.parse(launch.get('tgWebAppThemeParams') || 'null')); } catch (e) { /* no theme given */ }
      postEvent('web_app_ready');
      postEvent('web_app_expand');
    }
    window.addEventListener('resize', function () { Object.keys(charts).forEach(function (k) { charts[k].resize(); }); });
    document.querySelectorAll('#tabs button').forEach(function (b) { b.onclick = function () { show(b.dataset.tab); }; });
    bindSettings();
    api('api/meta').then(function (m) {
      meta = m;
      setLang(pickLang(m.default_lang));
      if (!inTelegram && !m.public) {
        $('notice').hidden = false; $('notice').textContent = t('open_in_telegram');
        document.querySelectorAll('section[data-page], #tabs').forEach(function (s) { s.hidden = true; });
        document.body.dataset.closed = 'true';
        return;
      }
      if (!m.has_data) { showEmpty(); return; }
      var tabs = ['spread', 'industries', 'scenarios'];
      if (inTelegram) {
        $('tabs').querySelector('[data-tab="settings"]').hidden = false;
        tabs.push('settings');
        // the reader's language: their /settings choice, else their Telegram language (the server knows both)
        api('api/me', { auth: true }).then(function (r) { me = r; if (r.lang !== lang) { setLang(r.lang); } }, function () { /* shown on Settings */ });
      }
      var asked = new URLSearchParams(location.search).get('tab') || launch.get('tgWebAppStartParam');
      show(tabs.indexOf(asked) >= 0 ? asked : 'spread');
    }, function (e) {
      $('notice').hidden = false; $('notice').textContent = t('load_failed', { e: e.message });
    });
  }
  if (document.readyState === 'loading') { document.addEventListener('DOMContentLoaded', start); } else { start(); }
})();
