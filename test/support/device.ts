// The device the tensor tests run on: 'cpu' by default, CLUSTERFIT_TEST_DEVICE=cuda on a GPU machine.
export const TEST_DEVICE = process.env.CLUSTERFIT_TEST_DEVICE ?? 'cpu';
export const ON_CUDA = TEST_DEVICE.startsWith('cuda');
