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
        el(
          'td',
          { class: n.upgrade_ready ? 'next ok' : 'next' },
          (n.next_action || '—') + (n.upgrade_ready ? ' (ready)' : ''),
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

  const pct = (x) => `${(100 * x).toFixed(1)}%`;
  const share = (n, d) => (d > 0 ? n / d : 0);

  // A bar with a marker at the threshold the value must reach.
  function bar(parts, mark, attrs) {
    const b = el('div', Object.assign({ class: 'bar' }, attrs || {}));
    let left = 0;
    for (const [value, cls] of parts) {
      const w = Math.max(0, Math.min(1, value));
      const span = el('span', { class: cls || '', style: `left:${100 * left}%;width:${100 * w}%` });
      b.append(span);
      left += w;
    }
    if (mark !== null) b.append(el('i', { style: `left:${100 * mark}%` }));
    return b;
  }

  function duration(sec) {
    if (sec === null || sec === undefined) return '';
    const h = Math.floor(sec / 3600);
    const m = Math.floor((sec % 3600) / 60);
    const x = sec % 60;
    return h ? `${h} h ${m} min` : m ? `${m} min ${x} s` : `${x} s`;
  }

  function renderUpgrade(s) {
    const u = s.upgrade;
    const box = $('#upgrade');
    const notice = $('#upgrade-notice');
    box.hidden = !u || u.proposals.length === 0;
    notice.hidden = true;
    const list = $('#proposals');
    list.replaceChildren();
    if (!u) return;
    for (const p of u.proposals) {
      const d = el('div', {
        class: 'proposal',
        'data-proposal': p.id,
        'data-status': p.status,
        'data-ready-stake': String(p.ready_stake),
        'data-blocks-left': p.blocks_left === null ? '' : String(p.blocks_left),
      });
      d.append(el('h3', {}, `${p.title} — dchat ${p.version} (${p.fork} fork): ${p.status.toUpperCase()}`));
      const votes = p.yes + p.no + p.abstain;
      d.append(
        el(
          'div',
          { class: 'tally' },
          `Votes: yes ${p.yes}, no ${p.no}, abstain ${p.abstain} (${p.voters} holders); turnout ${pct(p.turnout)} of quorum ${p.quorum}${p.quorum_reached ? ' ✓' : ''}${p.passed ? ', passed' : ''}`,
        ),
        bar(
          [
            [p.turnout * share(p.yes, votes), ''],
            [p.turnout * share(p.no, votes), 'no'],
          ],
          Number(p.quorum),
          { 'data-bar': 'tally' },
        ),
        el(
          'div',
          { class: 'approving' },
          `Approving stake: ${p.approving_stake} of ${p.total_stake} (${pct(share(p.approving_stake, p.total_stake))}, needs ${p.approval_threshold}${p.fork === 'soft' ? '; soft fork: not required' : ''})${p.approval_reached ? ' ✓' : ''}`,
        ),
        bar([[share(p.approving_stake, p.total_stake), '']], Number(p.approval_threshold), { 'data-bar': 'approving' }),
        el(
          'div',
          { class: 'ready' },
          `Stake ready: ${p.ready_stake} of ${p.total_stake} (${pct(share(p.ready_stake, p.total_stake))})${p.ready_validators.length ? `: ${p.ready_validators.join(', ')}` : ''}`,
        ),
        bar([[share(p.ready_stake, p.total_stake), '']], null, { 'data-bar': 'ready' }),
      );
      let count;
      if (p.status === 'voting') count = `Voting ends in ${duration(p.voting_left_s)}`;
      else if (p.status === 'rejected') count = 'Rejected: no activation';
      else if (p.blocks_left === null) count = `Activation at height ${p.activation_height} (no height known yet)`;
      else if (p.blocks_left === 0) count = `Activated at height ${p.activation_height}`;
      else
        count = `Activation at height ${p.activation_height}: ${p.blocks_left} blocks left${p.eta_s !== null ? ` (about ${duration(p.eta_s)})` : ''}`;
      d.append(el('div', { class: 'countdown' }, count));
      list.append(d);
    }
    // The pending-update notice: an approved upgrade not activated yet.
    const next = u.proposals.find((p) => p.status === 'approved' && p.blocks_left !== 0);
    if (next) {
      notice.hidden = false;
      notice.className = 'notice upgrade';
      notice.textContent =
        `Upgrade pending: dchat ${next.version} was approved and activates at height ${next.activation_height}` +
        (next.blocks_left !== null ? ` (${next.blocks_left} blocks left)` : '') +
        ` — ${pct(share(next.ready_stake, next.total_stake))} of validator stake ready`;
    }
  }

  function renderEvents(s) {
    const box = $('#activation');
    const ev = $('#events');
    const rb = $('#rollbacks');
    ev.replaceChildren();
    rb.replaceChildren();
    const rollbacks = (s.upgrade && s.upgrade.rollbacks) || [];
    box.hidden = s.events.length === 0 && rollbacks.length === 0;
    for (const e of s.events.slice().reverse()) {
      const at = new Date(e.t).toLocaleTimeString();
      const h = e.height === null ? '' : ` at height ${e.height}`;
      const dt = e.downtime_ms === null ? '' : `, down ${e.downtime_ms} ms`;
      ev.append(
        el(
          'li',
          { class: `event ${e.kind}`, 'data-node': e.node, 'data-kind': e.kind },
          `${at} ${e.node}: ${e.kind === 'switch' ? 'switched' : 'rolled back'} ${e.from || '—'} → ${e.to}${h}${dt}`,
        ),
      );
    }
    for (const r of rollbacks)
      rb.append(
        el(
          'li',
          { class: 'rollback', 'data-who': r.who },
          `↩ ${r.who} (stake ${r.stake}) rolled back ${r.version} → ${r.to}${r.height === null ? '' : ` at height ${r.height}`}: ${r.reason}`,
        ),
      );
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
      renderUpgrade(s);
      renderEvents(s);
      renderChart(s);
      document.body.dataset.loaded = 'true';
    } catch (e) {
      $('#clock').textContent = `no data: ${e.message}`;
    }
  }
  tick();
  setInterval(tick, 1000);
})();
