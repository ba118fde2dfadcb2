// dchat dashboard: polls /api/state once a second and renders it. uPlot (served by the node, no
// CDN) draws the propagation chart. Plain browser JavaScript, no build step.
'use strict';
(function () {
  const $ = (sel) => document.querySelector(sel);
  const el = (tag, attrs, text) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const COLORS = ['#2563eb', '#16a34a', '#dc2626', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777'];
  let plot = null;
  let plotKey = '';

  function renderNotice(s) {
    const n = $('#update-notice');
    const u = s.update_notice;
    if (!u) {
      n.hidden = true;
      return;
    }
    n.hidden = false;
    const all = s.nodes.length;
    n.className = u.nodes_ready === all ? 'notice done' : 'notice';
    n.textContent =
      `Update available: dchat ${u.version} — verified on ${u.nodes_ready} of ${all} nodes` +
      (u.nodes_pending ? `, ${u.nodes_pending} node(s) have it pending` : '');
  }

  function renderNodes(s) {
    const body = $('#nodes tbody');
    body.replaceChildren();
    for (const n of s.nodes) {
      const tr = el('tr', { 'data-node-id': n.id, 'data-role': n.role, 'data-up': String(n.up) });
      tr.append(
        el('td', {}, n.id),
        el('td', {}, n.role),
        el('td', {}, n.version),
        el('td', { class: 'trusted' }, n.highest_trusted || '—'),
        el('td', { class: n.ready_version ? 'ready ok' : 'ready' }, n.ready_version || '—'),
        el(
          'td',
          { class: n.update_pending ? 'pending' : 'ok' },
          !n.up ? 'down' : n.update_pending ? `pending ${n.highest_trusted}` : 'up to date',
        ),
        el('td', {}, String(n.connected_peers)),
        el('td', {}, n.fork_id),
        el('td', { class: 'peer' }, n.peer_id.slice(0, 20) + '…'),
      );
      body.append(tr);
    }
  }

  function renderLists(s) {
    const m = $('#mirrors');
    m.replaceChildren();
    for (const x of s.mirrors)
      m.append(
        el(
          'li',
          { class: x.ok ? 'mirror ok' : 'mirror bad' },
          `${x.ok ? '✅' : '❌'} ${x.url} ${x.ok ? `${x.latency_ms} ms` : x.error || ''}`,
        ),
      );
    if (!s.mirrors.length) m.append(el('li', {}, 'no mirror probed'));
    const c = $('#channels');
    c.replaceChildren();
    for (const ch of s.channels) c.append(el('li', { class: 'channel' }, `${ch.name}: ${ch.latest || 'no release yet'}`));
    const r = $('#releases');
    r.replaceChildren();
    for (const x of s.releases.slice(-10).reverse())
      r.append(el('li', { class: 'release' }, `${x.version} published ${new Date(x.published_at).toLocaleTimeString()}`));
  }

  function renderPanels(s) {
    const p = $('#panels');
    p.replaceChildren();
    p.hidden = s.panels.length === 0;
    for (const panel of s.panels) {
      const box = el('div', { 'data-panel': panel.id });
      box.append(el('h2', {}, panel.title));
      const t = el('table');
      for (const [k, v] of panel.rows) {
        const tr = el('tr');
        tr.append(el('th', {}, k), el('td', {}, v));
        t.append(tr);
      }
      box.append(t);
      p.append(box);
    }
  }

  function renderChart(s) {
    const h = s.history;
    if (!window.uPlot || h.t.length === 0) return;
    const key = h.versions.join(',');
    const data = [h.t];
    const series = [{}];
    h.versions.forEach((v, i) => {
      const color = COLORS[i % COLORS.length];
      data.push(h.trusted[i]);
      series.push({ label: `trust ${v}`, stroke: color, width: 2 });
      data.push(h.verified[i]);
      series.push({ label: `verified ${v}`, stroke: color, width: 2, dash: [6, 4] });
    });
    const width = Math.max(400, $('#chart').clientWidth || 800);
    if (!plot || plotKey !== key) {
      if (plot) plot.destroy();
      plot = new uPlot(
        {
          width,
          height: 260,
          series,
          scales: { y: { range: [0, Math.max(1, s.nodes.length)] } },
          axes: [{}, { label: 'nodes' }],
        },
        data,
        $('#chart'),
      );
      plotKey = key;
    } else plot.setData(data);
  }

  async function tick() {
    try {
      const r = await fetch('/api/state', { cache: 'no-store' });
      const s = await r.json();
      document.title = s.title;
      $('#title').textContent = s.title;
      $('#clock').textContent = new Date(s.now).toLocaleTimeString();
      renderNotice(s);
      renderNodes(s);
      renderLists(s);
      renderPanels(s);
      renderChart(s);
      document.body.dataset.loaded = 'true';
    } catch (e) {
      $('#clock').textContent = `no data: ${e.message}`;
    }
  }
  tick();
  setInterval(tick, 1000);
})();
