#!/usr/bin/env node
// Builds the image addon (native/image/image.cc) into build/Release/clusterfit_image.node: TurboJPEG
// decoding and the loader's geometric operations, used by the data loader's worker threads. It
// needs TurboJPEG (Debian/Ubuntu libturbojpeg0-dev), looked for in TURBOJPEG_HOME (a folder with
// include/turbojpeg.h and lib/), then in the system. Unlike FAISS it is required: without it the
// build fails with a message saying what to install.
import { buildAddon, findLibrary } from './addon-build.mjs';
import { LIBRARIES } from './libraries.mjs';

buildAddon({
  name: 'image',
  libraryName: LIBRARIES.image.libraryName,
  library: findLibrary(LIBRARIES.image.search),
  // -O3: the resampling passes are loops the compiler vectorises.
  flags: ['-O3'],
  libs: ['-lturbojpeg'],
  missing(reason) {
    console.error(`build-image: ${reason}.`);
    console.error(`  The data loader needs it: ${LIBRARIES.image.install} (or set TURBOJPEG_HOME), then npm run build`);
    process.exit(1);
  },
});
