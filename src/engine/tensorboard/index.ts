// TensorBoard event files, written without TensorFlow: see event-file.ts for the format and hook.ts
// for what the training loop logs.
export { EventFileWriter, tfRecord, type Histogram } from './event-file.js';
export { TensorBoardHook, type TensorBoardHookOptions } from './hook.js';
export { histogramOf } from './histogram.js';
export { crc32c, maskedCrc32c } from './crc32c.js';
