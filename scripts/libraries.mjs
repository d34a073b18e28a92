// The system libraries the single-file addons wrap: where each is looked for and the one command
// that installs it. Shared by their build scripts and by the install script's check.
export const LIBRARIES = {
  image: {
    libraryName: 'TurboJPEG',
    search: {
      envVar: 'TURBOJPEG_HOME',
      prefixes: ['/usr', '/usr/local', '/opt/libjpeg-turbo'],
      header: 'turbojpeg.h',
      libFiles: ['libturbojpeg.so'],
    },
    install: 'apt-get install libturbojpeg0-dev',
  },
  faiss: {
    libraryName: 'FAISS',
    search: {
      envVar: 'FAISS_HOME',
      prefixes: ['/usr', '/usr/local'],
      header: 'faiss/Clustering.h',
      libFiles: ['libfaiss.so', 'libfaiss.a'],
    },
    install: 'apt-get install libfaiss-dev',
  },
  liblinear: {
    libraryName: 'liblinear',
    search: {
      envVar: 'LIBLINEAR_HOME',
      prefixes: ['/usr', '/usr/local'],
      header: 'linear.h',
      libFiles: ['liblinear.so'],
    },
    install: 'apt-get install liblinear-dev',
  },
};
