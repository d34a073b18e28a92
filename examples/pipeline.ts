// ClusterFit end to end from TypeScript, in one call: RotNet pretraining, features and k-means,
// training on the cluster ids, and evaluation of the features, on an image folder with train/ and
// test/ (<class>/<image>) inside; by default the demo set shipped with the package.
//
//   node dist/examples/pipeline.js [out folder] [data root] [config.KEY=value ...]
import { runPipeline, type ProgressEvent } from 'clusterfit/tasks';
import { memoryStats } from 'clusterfit/torch';

const [out = 'runs/example', dataRoot, ...overrides] = process.argv.slice(2);

let lastLabel = '';
function showProgress(event: ProgressEvent): void {
  // One line per stage part; a real application would update a progress bar here.
  if (event.label !== lastLabel) process.stderr.write(`${event.label}: ${event.total} images\n`);
  lastLabel = event.label;
}

const result = await runPipeline({
  preset: 'demo',
  outputDir: out,
  dataRoot,
  overrides,
  // The pipeline's messages go where we say (here: nowhere); its metrics still go to out/metrics.jsonl.
  log: { messages: () => {} },
  onProgress: showProgress,
});
if (!result.completed) throw new Error('the pipeline was stopped before the end');
console.log(result.table);
console.log(`K=${result.clusters!.numClusters}; tensors still alive: ${memoryStats().liveTensors}`);
