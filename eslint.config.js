import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'build/', 'node_modules/', 'data/demo/', 'docs/api/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // The explorer's page runs in the browser as classic scripts beside uPlot's, which share one
    // global scope: what a file defines at its top level, the next ones use (the list below).
    files: ['src/explore/page/**/*.js'],
    languageOptions: {
      sourceType: 'script',
      globals: {
        window: 'readonly',
        document: 'readonly',
        location: 'readonly',
        fetch: 'readonly',
        setTimeout: 'readonly',
        URLSearchParams: 'readonly',
        Node: 'readonly',
        uPlot: 'readonly',
        ...Object.fromEntries(
          [
            ['dom.js', 'el fmt'],
            ['api.js', 'api PAGE_SIZE PER_TILE MIN_SIZE_SORTS'],
            ['charts.js', 'COLOURS chart align smooth'],
            ['training.js', 'renderStages setSmoothing isRunning trainingView'],
            ['evaluation.js', 'renderEvaluations'],
            ['heatmap.js', 'renderHeatmap'],
            ['url-state.js', 'viewState'],
            ['clusterings.js', 'renderClustering'],
            ['neighbours.js', 'showNeighbours'],
          ].flatMap(([, names]) => names.split(' ').map((name) => [name, 'readonly'])),
        ),
      },
    },
    rules: {
      // Top-level names are used by the other files; the page's own globals are defined once, here listed.
      '@typescript-eslint/no-unused-vars': ['error', { vars: 'local', argsIgnorePattern: '^_' }],
      'no-redeclare': ['error', { builtinGlobals: false }],
    },
  },
);
