// The liblinear addon: many binary linear SVMs (or other liblinear problems) trained on one feature
// matrix, in parallel on a pool of threads. liblinear is the library behind scikit-learn's
// LinearSVC (scikit-learn ships a lightly modified copy); this binds Debian's liblinear-dev.
//
// Why a thread pool here rather than Node worker threads: liblinear's train() is one blocking C call
// per problem, and every problem of a call reads the same features. Converted once to liblinear's
// sparse rows (zeros skipped, as scikit-learn's dense-to-sparse conversion does), they are shared
// read-only by all threads; a problem only adds its own label and row-pointer arrays. Worker threads
// would each need their own copy of the converted rows. The pool runs on one libuv thread (an
// AsyncWorker), so the event loop stays free.
//
// It knows matrices and labels, not classes, costs or folds: the TypeScript side
// (src/engine/svm/) builds the problems.
#include <napi.h>

#include <linear.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

// liblinear reports through one global print function. Each pool thread points this at the
// problem it is training, so the messages (the iteration count, the max-iteration warning) reach
// the right result.
thread_local std::string* printSink = nullptr;

void capturePrint(const char* message) {
  if (printSink != nullptr) printSink->append(message);
}

struct Problem {
  Napi::Reference<Napi::Value> keepRows, keepLabels;
  const int32_t* rows;  // indices into the feature matrix, or null for every row
  const int8_t* labels;  // +1 / -1, one per row used
  size_t count;
  double C, weightPositive, weightNegative;
};

struct Solution {
  std::vector<double> weights;  // d values, for the +1 class
  double bias = 0;
  int iterations = -1;
  bool maxIterReached = false;
  std::string error;
};

class TrainWorker : public Napi::AsyncWorker {
 public:
  TrainWorker(Napi::Env env, Napi::Reference<Napi::Value> keepX, const float* x, size_t n, size_t d,
              std::vector<Problem> problems, int solver, double eps, double bias, size_t threads)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), keepX_(std::move(keepX)), x_(x),
        n_(n), d_(d), problems_(std::move(problems)), solver_(solver), eps_(eps), bias_(bias), threads_(threads),
        solutions_(problems_.size()) {}

  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      convert();
      std::atomic<size_t> next{0};
      auto work = [&]() {
        for (size_t i = next++; i < problems_.size(); i = next++) solve(problems_[i], solutions_[i]);
      };
      size_t count = std::max<size_t>(1, std::min(threads_, problems_.size()));
      std::vector<std::thread> pool;
      for (size_t t = 1; t < count; t++) pool.emplace_back(work);
      work();
      for (auto& thread : pool) thread.join();
    } catch (const std::exception& error) {
      SetError(error.what());
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    auto results = Napi::Array::New(env, solutions_.size());
    for (size_t i = 0; i < solutions_.size(); i++) {
      const Solution& s = solutions_[i];
      if (!s.error.empty()) {
        deferred_.Reject(Napi::Error::New(env, "problem " + std::to_string(i) + ": " + s.error).Value());
        return;
      }
      auto weights = Napi::Float64Array::New(env, d_);
      std::copy(s.weights.begin(), s.weights.end(), weights.Data());
      auto result = Napi::Object::New(env);
      result.Set("weights", weights);
      result.Set("bias", s.bias);
      result.Set("iterations", s.iterations);
      result.Set("maxIterReached", s.maxIterReached);
      results.Set(i, result);
    }
    deferred_.Resolve(results);
  }

  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

 private:
  // Each row as liblinear wants it: its non-zero values (1-based indices), the bias feature
  // (index d + 1) when there is one, and the -1 terminator.
  void convert() {
    size_t nonzero = 0;
    for (size_t i = 0; i < n_ * d_; i++) nonzero += x_[i] != 0;
    nodes_.resize(nonzero + n_ * (bias_ >= 0 ? 2 : 1));
    starts_.resize(n_);
    feature_node* node = nodes_.data();
    for (size_t r = 0; r < n_; r++) {
      starts_[r] = node;
      const float* row = x_ + r * d_;
      for (size_t j = 0; j < d_; j++) {
        if (row[j] != 0) *node++ = {static_cast<int>(j + 1), static_cast<double>(row[j])};
      }
      if (bias_ >= 0) *node++ = {static_cast<int>(d_ + 1), bias_};
      *node++ = {-1, 0};
    }
  }

  void solve(const Problem& p, Solution& out) {
    std::string messages;
    printSink = &messages;
    try {
      std::vector<double> y(p.count);
      std::vector<feature_node*> x(p.count);
      for (size_t i = 0; i < p.count; i++) {
        size_t row = p.rows ? static_cast<size_t>(p.rows[i]) : i;
        x[i] = starts_[row];
        y[i] = p.labels[i];
      }
      problem prob{static_cast<int>(p.count), static_cast<int>(d_ + (bias_ >= 0 ? 1 : 0)), y.data(), x.data(), bias_};
      int weightLabel[2] = {1, -1};
      double weight[2] = {p.weightPositive, p.weightNegative};
      parameter param{};
      param.solver_type = solver_;
      param.eps = eps_;
      param.C = p.C;
      param.nr_weight = 2;
      param.weight_label = weightLabel;
      param.weight = weight;
      param.p = 0.1;
      param.init_sol = nullptr;
      if (const char* problem = check_parameter(&prob, &param)) {
        out.error = problem;
        printSink = nullptr;
        return;
      }
      model* m = train(&prob, &param);
      if (m->nr_class != 2) {
        free_and_destroy_model(&m);
        out.error = "the labels hold one class only; a binary SVM needs both +1 and -1";
        printSink = nullptr;
        return;
      }
      // With two classes liblinear keeps one weight vector, for the class it met first (label[0]).
      double sign = m->label[0] == -1 ? -1 : 1;
      out.weights.resize(d_);
      for (size_t j = 0; j < d_; j++) out.weights[j] = sign * m->w[j];
      out.bias = bias_ >= 0 ? sign * bias_ * m->w[d_] : 0;
      free_and_destroy_model(&m);
      const char* at = std::strstr(messages.c_str(), "#iter = ");
      if (at != nullptr) out.iterations = std::atoi(at + 8);
      out.maxIterReached = messages.find("reaching max number of iterations") != std::string::npos;
    } catch (const std::exception& error) {
      out.error = error.what();
    }
    printSink = nullptr;
  }

  Napi::Promise::Deferred deferred_;
  Napi::Reference<Napi::Value> keepX_;
  const float* x_;
  size_t n_, d_;
  std::vector<Problem> problems_;
  int solver_;
  double eps_, bias_;
  size_t threads_;
  std::vector<Solution> solutions_;
  std::vector<feature_node> nodes_;
  std::vector<feature_node*> starts_;
};

double number(const Napi::Object& object, const char* name) {
  Napi::Value value = object.Get(name);
  if (!value.IsNumber()) throw Napi::TypeError::New(object.Env(), std::string(name) + " must be a number");
  return value.As<Napi::Number>().DoubleValue();
}

// train(x: Float32Array, n, d, problems: {rows?: Int32Array, labels: Int8Array, C, weightPositive,
//   weightNegative}[], options: {solver, eps, bias, threads}) -> Promise<{weights, bias, iterations,
//   maxIterReached}[]>
Napi::Value Train(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw Napi::TypeError::New(env, "x must be a Float32Array");
  auto x = info[0].As<Napi::Float32Array>();
  size_t n = info[1].As<Napi::Number>().Int64Value();
  size_t d = info[2].As<Napi::Number>().Int64Value();
  if (x.ElementLength() != n * d) throw Napi::RangeError::New(env, "x must hold n * d floats");
  if (n > INT32_MAX || d + 1 > INT32_MAX) throw Napi::RangeError::New(env, "liblinear indexes rows and features with int");
  auto list = info[3].As<Napi::Array>();
  std::vector<Problem> problems;
  for (uint32_t i = 0; i < list.Length(); i++) {
    auto item = list.Get(i).As<Napi::Object>();
    Problem p;
    Napi::Value labels = item.Get("labels");
    if (!labels.IsTypedArray() || labels.As<Napi::TypedArray>().TypedArrayType() != napi_int8_array)
      throw Napi::TypeError::New(env, "problem " + std::to_string(i) + ": labels must be an Int8Array");
    auto labelArray = labels.As<Napi::Int8Array>();
    p.labels = labelArray.Data();
    p.count = labelArray.ElementLength();
    p.keepLabels = Napi::Persistent(labels);
    for (size_t k = 0; k < p.count; k++) {
      if (p.labels[k] != 1 && p.labels[k] != -1)
        throw Napi::RangeError::New(env, "problem " + std::to_string(i) + ": labels must be +1 or -1");
    }
    Napi::Value rows = item.Get("rows");
    p.rows = nullptr;
    if (!rows.IsUndefined() && !rows.IsNull()) {
      if (!rows.IsTypedArray() || rows.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
        throw Napi::TypeError::New(env, "problem " + std::to_string(i) + ": rows must be an Int32Array");
      auto rowArray = rows.As<Napi::Int32Array>();
      if (rowArray.ElementLength() != p.count)
        throw Napi::RangeError::New(env, "problem " + std::to_string(i) + ": rows and labels differ in length");
      for (size_t k = 0; k < p.count; k++) {
        if (rowArray[k] < 0 || static_cast<size_t>(rowArray[k]) >= n)
          throw Napi::RangeError::New(env, "problem " + std::to_string(i) + ": a row index is out of range");
      }
      p.rows = rowArray.Data();
      p.keepRows = Napi::Persistent(rows);
    } else if (p.count != n) {
      throw Napi::RangeError::New(env, "problem " + std::to_string(i) + ": without rows, labels must have n entries");
    }
    p.C = number(item, "C");
    p.weightPositive = number(item, "weightPositive");
    p.weightNegative = number(item, "weightNegative");
    problems.push_back(std::move(p));
  }
  auto options = info[4].As<Napi::Object>();
  int solver = static_cast<int>(number(options, "solver"));
  double eps = number(options, "eps");
  double bias = number(options, "bias");
  size_t threads = static_cast<size_t>(std::max(1.0, number(options, "threads")));
  auto* worker = new TrainWorker(env, Napi::Persistent(info[0]), x.Data(), n, d, std::move(problems), solver, eps,
                                 bias, threads);
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  set_print_string_function(capturePrint);
  exports.Set("train", Napi::Function::New(env, Train));
  exports.Set("version", liblinear_version);
  return exports;
}

}  // namespace

NODE_API_MODULE(clusterfit_liblinear, Init)
