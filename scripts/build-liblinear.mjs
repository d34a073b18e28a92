#!/usr/bin/env node
// Builds the liblinear addon (native/liblinear/liblinear.cc) into build/Release/clusterfit_liblinear.node,
// the solver of VISSL's SVM benchmark (train_svm, train_svm_low_shot). liblinear is looked for in
// LIBLINEAR_HOME (a folder with include/linear.h and lib/), then in the system (Debian/Ubuntu
// liblinear-dev). Without it the build is skipped with a message and exit status 0: only the SVM
// tools need it, and they say so when it is missing.
import { buildAddon, findLibrary } from './addon-build.mjs';
import { LIBRARIES } from './libraries.mjs';

buildAddon({
  name: 'liblinear',
  libraryName: LIBRARIES.liblinear.libraryName,
  library: findLibrary(LIBRARIES.liblinear.search),
  flags: ['-O2', '-pthread'],
  libs: ['-llinear'],
  missing(reason) {
    console.log(`build-liblinear: skipped, ${reason}. VISSL's SVM tools (train_svm, train_svm_low_shot) need it:`);
    console.log(`  ${LIBRARIES.liblinear.install} (or set LIBLINEAR_HOME), then npm run build`);
    process.exit(0);
  },
});
