// The distributed entry points of the native addon (native/src/distributed.cc), typed. They are
// kept out of ../native.ts so that file stays the tensor core's surface.
import { native, type Handle } from '../native.js';

export type NativeReduceOp = 'sum' | 'avg' | 'max' | 'min';

export interface DistributedBuildInfo {
  /** Backends compiled in ('gloo', 'nccl'). */
  backends: string[];
  /** Why distributed is unavailable in this build, or null. */
  unavailableReason: string | null;
  /** Which c10d::Reducer constructor the build probe found (1: PyTorch 1.11-1.13, 2-4: 2.x). */
  reducerConstructor?: number;
  processGroupIsBackend: boolean;
  processGroupHasOptions: boolean;
  tcpStoreHasLibuv: boolean;
}

export interface DistributedNative {
  cudaSetDevice(index: number): void;
  distUnavailableReason(): string | null;
  distInit(
    backend: string,
    rank: number,
    worldSize: number,
    host: string,
    port: number,
    timeoutMs: number,
    rendezvousTimeoutMs: number,
  ): void;
  distDestroy(): void;
  distIsInitialized(): boolean;
  distAllReduce(t: Handle, op: NativeReduceOp, async: false): void;
  distAllReduce(t: Handle, op: NativeReduceOp, async: true): Promise<void>;
  distBroadcast(t: Handle, src: number, async: false): void;
  distBroadcast(t: Handle, src: number, async: true): Promise<void>;
  distAllGather(t: Handle, async: false): Handle[];
  distAllGather(t: Handle, async: true): Promise<Handle[]>;
  distReduceScatter(out: Handle, inputs: Handle[], op: NativeReduceOp): void;
  distBarrier(async: false): void;
  distBarrier(async: true): Promise<void>;
  distBroadcastCoalesced(tensors: Handle[], src: number, bufferBytes: number): void;
  ddpCreate(params: Handle[], bucketBytesCap: number, firstBucketBytesCap: number, findUnused: boolean): number;
  ddpPrepareForward(id: number, syncGradients: boolean): boolean;
  ddpPrepareBackward(id: number, outputs: Handle[]): void;
  ddpDestroy(id: number): void;
  syncBatchNorm(
    input: Handle,
    weight: Handle | null,
    bias: Handle | null,
    runningMean: Handle | null,
    runningVar: Handle | null,
    momentum: number,
    eps: number,
  ): Handle;
  buildInfo(): { distributed: DistributedBuildInfo };
}

export const distNative = native as unknown as DistributedNative;
