// One rank of the 2-rank job behind collectives/ddp/sync-batchnorm tests. They share one job
// (each job costs two Node processes loading libtorch); each part reports its own results.
import { distributed as dist, zeros } from '../../../../src/torch/index.js';
import { reportResult } from '../../../support/ranks.js';
import { run as collectives } from './collectives.js';
import { run as ddp } from './ddp.js';
import { run as syncBatchNorm } from './sync-batchnorm.js';

// `node --test dist/test/` also runs this file on its own, outside any job: then it has nothing to do.
if (process.env.RANK === undefined) process.exit(0);

const out: Record<string, unknown> = {};
try {
  dist.allReduce(zeros([1]));
} catch (error) {
  out.beforeInit = (error as Error).message;
}
dist.initProcessGroup({ backend: 'gloo', timeoutMs: 15_000 });
out.collectives = await collectives();
out.ddp = await ddp();
out.syncBatchNorm = await syncBatchNorm();
dist.destroyProcessGroup();
out.afterDestroy = dist.isInitialized();
reportResult(out);
