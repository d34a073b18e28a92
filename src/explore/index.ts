// clusterfit/explore: a run folder's curves, clusterings and evaluations, as a loopback web page
// (`startExplorer`) or one static HTML file (`writeReport`).
export { startExplorer, fileInside, type ExplorerServer } from './server.js';
export { writeReport, type ReportOptions } from './report.js';
export { RunFolder, stagesOf, evaluationsOf, type StageCurves, type EvaluationRow } from './run.js';
export { Clustering, type ClusteringInfo, type Tile, type Neighbour, type SortKey } from './clustering.js';
export { clusterScores, contingency, type ClusterScores } from './scores.js';
