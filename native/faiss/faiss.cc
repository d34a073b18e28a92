// Optional addon: FAISS's own k-means (faiss::Clustering) and exact search (IndexFlatL2 /
// IndexFlatIP), so results can be compared with the reference implementation. It only sees
// float32 buffers; the TypeScript side (src/cluster/faiss.ts) turns tensors into them. The work
// runs on libuv's thread pool, so the event loop stays free while FAISS computes.
#include <napi.h>
#include <omp.h>

#include <faiss/Clustering.h>
#include <faiss/IndexFlat.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace {

// Keeps the JS buffer alive while a worker reads it, without copying the features.
struct Input {
  Napi::Reference<Napi::Value> keep;
  const float* data;
  size_t length;
};

Input takeFloats(const Napi::Value& value, const char* what) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw Napi::TypeError::New(value.Env(), std::string(what) + " must be a Float32Array");
  }
  auto array = value.As<Napi::Float32Array>();
  return {Napi::Persistent(value), array.Data(), array.ElementLength()};
}

size_t positive(const Napi::Object& options, const char* name, size_t fallback) {
  Napi::Value value = options.Get(name);
  if (value.IsUndefined()) return fallback;
  double number = value.As<Napi::Number>().DoubleValue();
  if (!(number >= 0)) throw Napi::RangeError::New(options.Env(), std::string(name) + " must be >= 0");
  return static_cast<size_t>(number);
}

class KMeansWorker : public Napi::AsyncWorker {
 public:
  KMeansWorker(Napi::Env env, Input x, size_t n, size_t d, size_t k, faiss::ClusteringParameters params)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), x_(std::move(x)), n_(n), d_(d),
        k_(k), params_(params) {}

  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      faiss::Clustering clustering(d_, k_, params_);
      // faiss.Kmeans searches by inner product in spherical mode, by squared L2 otherwise.
      std::unique_ptr<faiss::IndexFlat> index;
      if (params_.spherical) index = std::make_unique<faiss::IndexFlatIP>(d_);
      else index = std::make_unique<faiss::IndexFlatL2>(d_);
      clustering.train(n_, x_.data, *index);
      centroids_ = clustering.centroids;
      stats_ = clustering.iteration_stats;
    } catch (const std::exception& error) {
      SetError(error.what());
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    auto centroids = Napi::Float32Array::New(env, centroids_.size());
    std::copy(centroids_.begin(), centroids_.end(), centroids.Data());
    auto iterations = Napi::Array::New(env, stats_.size());
    for (size_t i = 0; i < stats_.size(); i++) {
      auto stat = Napi::Object::New(env);
      stat.Set("objective", stats_[i].obj);
      stat.Set("time", stats_[i].time);
      stat.Set("timeSearch", stats_[i].time_search);
      stat.Set("imbalanceFactor", stats_[i].imbalance_factor);
      stat.Set("nsplit", stats_[i].nsplit);
      iterations.Set(i, stat);
    }
    auto result = Napi::Object::New(env);
    result.Set("centroids", centroids);
    result.Set("iterations", iterations);
    deferred_.Resolve(result);
  }

  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Input x_;
  size_t n_, d_, k_;
  faiss::ClusteringParameters params_;
  std::vector<float> centroids_;
  std::vector<faiss::ClusteringIterationStats> stats_;
};

class SearchWorker : public Napi::AsyncWorker {
 public:
  SearchWorker(Napi::Env env, Input x, Input centroids, size_t n, size_t d, size_t k, bool innerProduct)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), x_(std::move(x)),
        centroids_(std::move(centroids)), n_(n), d_(d), k_(k), innerProduct_(innerProduct), labels_(n),
        distances_(n) {}

  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      std::unique_ptr<faiss::IndexFlat> index;
      if (innerProduct_) index = std::make_unique<faiss::IndexFlatIP>(d_);
      else index = std::make_unique<faiss::IndexFlatL2>(d_);
      index->add(k_, centroids_.data);
      index->search(n_, x_.data, 1, distances_.data(), labels_.data());
    } catch (const std::exception& error) {
      SetError(error.what());
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    auto labels = Napi::BigInt64Array::New(env, n_);
    auto distances = Napi::Float32Array::New(env, n_);
    std::copy(labels_.begin(), labels_.end(), labels.Data());
    std::copy(distances_.begin(), distances_.end(), distances.Data());
    auto result = Napi::Object::New(env);
    result.Set("labels", labels);
    result.Set("distances", distances);
    deferred_.Resolve(result);
  }

  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Input x_, centroids_;
  size_t n_, d_, k_;
  bool innerProduct_;
  std::vector<int64_t> labels_;  // faiss idx_t, whose spelling changed across versions
  std::vector<float> distances_;
};

// kmeans(x: Float32Array, n, d, k, options) -> Promise<{centroids, iterations}>
Napi::Value KMeans(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Input x = takeFloats(info[0], "x");
  size_t n = info[1].As<Napi::Number>().Int64Value();
  size_t d = info[2].As<Napi::Number>().Int64Value();
  size_t k = info[3].As<Napi::Number>().Int64Value();
  if (x.length != n * d) throw Napi::RangeError::New(env, "x must hold n * d floats");
  Napi::Object options = info[4].IsObject() ? info[4].As<Napi::Object>() : Napi::Object::New(env);
  faiss::ClusteringParameters params;
  params.niter = positive(options, "niter", params.niter);
  params.nredo = positive(options, "nredo", params.nredo);
  params.seed = positive(options, "seed", params.seed);
  params.max_points_per_centroid = positive(options, "maxPointsPerCentroid", params.max_points_per_centroid);
  params.min_points_per_centroid = positive(options, "minPointsPerCentroid", params.min_points_per_centroid);
  params.spherical = options.Get("spherical").ToBoolean();
  params.verbose = options.Get("verbose").ToBoolean();
  auto* worker = new KMeansWorker(env, std::move(x), n, d, k, params);
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

// search(x: Float32Array, n, centroids: Float32Array, k, d, innerProduct) -> Promise<{labels, distances}>
Napi::Value Search(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Input x = takeFloats(info[0], "x");
  size_t n = info[1].As<Napi::Number>().Int64Value();
  Input centroids = takeFloats(info[2], "centroids");
  size_t k = info[3].As<Napi::Number>().Int64Value();
  size_t d = info[4].As<Napi::Number>().Int64Value();
  if (x.length != n * d || centroids.length != k * d) {
    throw Napi::RangeError::New(env, "x must hold n * d floats and centroids k * d");
  }
  auto* worker = new SearchWorker(env, std::move(x), std::move(centroids), n, d, k, info[5].ToBoolean());
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  omp_set_num_threads(info[0].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("kmeans", Napi::Function::New(env, KMeans));
  exports.Set("search", Napi::Function::New(env, Search));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads));
  return exports;
}

}  // namespace

NODE_API_MODULE(clusterfit_faiss, Init)
