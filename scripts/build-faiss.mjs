#!/usr/bin/env node
// Builds the optional FAISS addon (native/faiss/faiss.cc) into build/Release/clusterfit_faiss.node,
// used by CLUSTER_BACKEND faiss. FAISS is looked for in FAISS_HOME (a folder with include/faiss and
// lib/), then in the system (Debian/Ubuntu libfaiss-dev). Without FAISS the build is skipped with a
// message and exit status 0: the faiss backend is optional, everything else works without it.
import { buildAddon, findLibrary } from './addon-build.mjs';
import { LIBRARIES } from './libraries.mjs';

buildAddon({
  name: 'faiss',
  libraryName: LIBRARIES.faiss.libraryName,
  library: findLibrary(LIBRARIES.faiss.search),
  flags: ['-O2', '-fopenmp'],
  // A static libfaiss (Debian's) brings no dependencies of its own: BLAS/LAPACK come explicitly.
  libs: ['-lfaiss', '-lblas', '-llapack'],
  missing(reason) {
    console.log(`build-faiss: skipped, ${reason}. The optional CLUSTER_BACKEND faiss needs it:`);
    console.log(`  ${LIBRARIES.faiss.install} (or set FAISS_HOME), then npm run build`);
    process.exit(0);
  },
});
