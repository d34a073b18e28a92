// The training stages: each stage's state line, and its curves overlaid with the other stages' of
// the same kind (RotNet and ClusterFit on one chart per quantity, a colour per stage, test dashed),
// so the two trainings compare at a glance. Per-iteration curves can be smoothed as TensorBoard does.
'use strict';

/** Chart groups by the task that wrote the curves: training stages, and the evaluations' linear probes. */
const GROUPS = { train: 'Training', evaluate: 'Linear probes (evaluation)' };

/** A stage's state in words, from its state record (the one `clusterfit status` reads). */
function stateText(stage) {
  const s = stage.state;
  if (!s) return stage.finished ? 'finished' : 'not finished (this run folder predates state records)';
  const of = s.epochs !== undefined ? ` of ${s.epochs}` : '';
  const attempts = s.attempts.length > 1 ? ` · ${s.attempts.length} attempts` : '';
  const words = {
    done: `finished${s.epoch !== undefined ? ` (${s.epoch}${of} epochs)` : ''}`,
    running: `running${s.epoch !== undefined ? `: epoch ${s.epoch}${of} done` : ''}`,
    stopped: `stopped at epoch ${s.epoch ?? 0}${of}; the same command resumes it`,
    failed: `failed: ${s.error ?? 'no error recorded'}`,
  }[s.state];
  return `${words}${attempts}`;
}

/** True while a stage runs (for folders without state records: while no summary closed it). */
function isRunning(stage) {
  return stage.state ? stage.state.state === 'running' : !stage.finished;
}

/** The training view's own state: the smoothing weight, kept in the URL with the rest. */
const trainingView = { smoothing: 0, root: null, stages: [] };

function trainingSection(root) {
  let section = document.getElementById('training');
  if (section) return section;
  const slider = el('input', {
    type: 'range',
    class: 'smoothing',
    min: 0,
    max: 0.99,
    step: 0.01,
    value: trainingView.smoothing,
    title: 'exponential moving average of the per-iteration loss and images/s, as TensorBoard smooths',
  });
  const value = el('span', { class: 'smoothing-value' }, fmt(trainingView.smoothing));
  slider.addEventListener('input', () => {
    trainingView.smoothing = Number(slider.value);
    value.textContent = fmt(trainingView.smoothing);
    drawTraining();
  });
  // One history entry per setting, not one per pixel dragged.
  slider.addEventListener('change', () => viewState.save());
  section = el(
    'section',
    { id: 'training' },
    el('h2', {}, 'Training'),
    el('div', { class: 'stages' }),
    el('label', { class: 'controls' }, 'smoothing', slider, value),
    el('div', { class: 'groups' }),
  );
  root.append(section);
  return section;
}

/** Sets the smoothing (from the URL) and redraws. */
function setSmoothing(weight) {
  trainingView.smoothing = Math.min(0.99, Math.max(0, Number(weight) || 0));
  const slider = document.querySelector('#training .smoothing');
  if (!slider) return;
  slider.value = String(trainingView.smoothing);
  document.querySelector('#training .smoothing-value').textContent = fmt(trainingView.smoothing);
  drawTraining();
}

function renderStages(root, stages) {
  trainingView.root = root;
  trainingView.stages = stages;
  if (stages.length === 0) return;
  drawTraining();
}

function drawTraining() {
  const { root, stages } = trainingView;
  if (!root || stages.length === 0) return;
  const section = trainingSection(root);
  const list = section.querySelector('.stages');
  stages.forEach((stage, i) => {
    const id = `stage-${stage.name}`;
    let row = document.getElementById(id);
    if (!row) {
      row = el(
        'div',
        { id, class: 'stage', 'data-stage': stage.name },
        el('span', { class: 'swatch' }),
        el('b', {}, stage.name),
        el('span', { class: 'stage-task muted' }, stage.task === 'train' ? '' : ` (${stage.task})`),
        ' ',
        el('span', { class: 'stage-state' }),
      );
      list.append(row);
    }
    row.querySelector('.swatch').style.background = COLOURS[i % COLOURS.length];
    const state = row.querySelector('.stage-state');
    state.textContent = stateText(stage);
    state.dataset.state = stage.state?.state ?? (stage.finished ? 'done' : 'unknown');
  });
  const groups = section.querySelector('.groups');
  const tasks = [...new Set(stages.map((s) => s.task))];
  const members = stages.map((stage, i) => ({ stage, colour: COLOURS[i % COLOURS.length] }));
  for (const task of tasks)
    drawGroup(
      groups,
      task,
      members.filter((m) => m.stage.task === task),
    );
  // A group's heading only tells groups apart: one group is the section itself.
  for (const heading of groups.querySelectorAll('.group > h3')) heading.hidden = tasks.length < 2;
}

/** The five charts of one group, each with every stage of the group as its own series. */
function drawGroup(groups, task, members) {
  let box = groups.querySelector(`[data-group="${task}"]`);
  if (!box) {
    box = el(
      'div',
      { class: 'group', 'data-group': task },
      el('h3', {}, GROUPS[task] ?? task),
      el('div', { class: 'charts' }),
    );
    groups.append(box);
  }
  const charts = box.querySelector('.charts');
  const w = trainingView.smoothing;
  const epochs = (e) => e.epoch.map((x) => x + 1);
  const perEpoch = (field) => {
    const series = [];
    const curves = [];
    const counts = {};
    for (const { stage, colour } of members) {
      series.push({ label: `${stage.name} train`, colour });
      curves.push({ x: epochs(stage.epochs), y: stage.epochs[field] });
      counts[stage.name] = stage.epochs.epoch.length;
      if (stage.tests.epoch.length > 0) {
        series.push({ label: `${stage.name} test`, colour, dash: true });
        curves.push({ x: epochs(stage.tests), y: stage.tests[field] });
      }
    }
    return { series, data: align(...curves), counts };
  };
  const perStep = (field, smoothed) => {
    const counts = Object.fromEntries(members.map(({ stage }) => [stage.name, stage.steps.iteration.length]));
    return {
      series: members.map(({ stage, colour }) => ({ label: stage.name, colour })),
      data: align(
        ...members.map(({ stage }) => ({
          x: stage.steps.iteration,
          y: smoothed ? smooth(stage.steps[field], w) : stage.steps[field],
        })),
      ),
      counts,
    };
  };
  const draw = (name, title, xLabel, yLabel, { series, data, counts }) =>
    chart(charts, `${task}-${name}`, title, xLabel, series, data, { yLabel, integerX: true, counts });
  draw('epoch-loss', 'loss per epoch (test dashed)', 'epoch', 'loss', perEpoch('loss'));
  draw('epoch-top1', 'top-1 accuracy per epoch (test dashed)', 'epoch', 'top-1 (%)', perEpoch('top1'));
  const smoothed = w > 0 ? `, smoothed ${fmt(w)}` : '';
  draw('step-loss', `loss (running mean in the epoch${smoothed})`, 'iteration', 'loss', perStep('loss', true));
  draw('lr', 'learning rate', 'iteration', 'lr', perStep('lr', false));
  draw(
    'speed',
    `images/s${smoothed ? ` (${smoothed.slice(2)})` : ''}`,
    'iteration',
    'images/s',
    perStep('imagesPerSec', true),
  );
}
