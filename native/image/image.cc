// The image addon: JPEG decoding with TurboJPEG and the loader's geometric operations (crop, zero
// padding, quarter turns, horizontal flip, resize) on 8-bit RGB, for the data loader's worker
// threads. It knows pixels, not tensors or ClusterFit, and needs no libtorch.
//
// The resize is PIL's antialiased bilinear resampling (what torchvision applies to PIL images)
// with PIL's arithmetic: a triangle filter stretched by the reduction factor, weights normalised
// and rounded to 22-bit fixed point, a horizontal pass rounded to 8 bits, then a vertical one. So
// the pixels equal torchvision's exactly. The last operation writes the batch's CHW planes directly.
//
// Everything runs synchronously on the calling thread: each loader worker is its own thread, and
// the addon is context-aware (one TurboJPEG handle per thread that loads it).
#include <napi.h>
#include <turbojpeg.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;
constexpr int32_t kHalf = 1 << (kPrecisionBits - 1);
constexpr double kOne = 1 << kPrecisionBits;
constexpr int64_t kMaxPixels = int64_t(0x3FFF) * 0x3FFF;

/** Packed RGB rows: `stride` bytes from one row to the next. */
struct Image {
  const uint8_t* data;
  int width;
  int height;
  ptrdiff_t stride;
};

/**
 * Where a pass writes: channel c of pixel (x, y) goes to data[origin + y * rowStride + x * xStride
 * + c * cStride]. Packed HWC and the batch's CHW planes (mirrored or not) are both such layouts, so
 * the last pass writes the batch directly.
 */
struct Target {
  uint8_t* data;
  ptrdiff_t origin;
  ptrdiff_t rowStride;
  ptrdiff_t xStride;
  ptrdiff_t cStride;
  uint8_t* row(int y) const { return data + origin + y * rowStride; }
};

Target packed(uint8_t* data, int width) { return {data, 0, ptrdiff_t(width) * 3, 3, 1}; }

Target planar(uint8_t* data, int width, int height, bool mirror) {
  return {data, mirror ? width - 1 : 0, width, mirror ? -1 : 1, ptrdiff_t(width) * height};
}

/** Buffers of the intermediate images of one call; they live until the call returns. */
class Arena {
 public:
  uint8_t* take(size_t bytes) {
    buffers_.emplace_back(bytes);  // zeroed: padding relies on it
    return buffers_.back().data();
  }

 private:
  std::deque<std::vector<uint8_t>> buffers_;
};

/** Copies `src` to `target`. */
void emit(const Image& src, const Target& t) {
  for (int y = 0; y < src.height; y++) {
    const uint8_t* p = src.data + y * src.stride;
    uint8_t* o = t.row(y);
    if (t.xStride == 3 && t.cStride == 1) {
      std::memcpy(o, p, size_t(src.width) * 3);
      continue;
    }
    for (int x = 0; x < src.width; x++, p += 3, o += t.xStride) {
      o[0] = p[0];
      o[t.cStride] = p[1];
      o[2 * t.cStride] = p[2];
    }
  }
}

/** The input range and fixed-point weights of each output pixel along one axis (PIL's precompute_coeffs). */
struct Taps {
  std::vector<int> first;
  std::vector<int> count;
  std::vector<int32_t> weights;
  int size;  // weights per output (the longest range)
};

Taps taps(int inSize, int outSize) {
  const double scale = double(inSize) / outSize;
  const double filterScale = std::max(scale, 1.0);
  const double support = filterScale;  // the triangle reaches 1 pixel, widened when reducing (antialiasing)
  const double inverse = 1 / filterScale;
  Taps t{std::vector<int>(outSize), std::vector<int>(outSize), {}, int(std::ceil(support)) * 2 + 1};
  t.weights.resize(size_t(outSize) * t.size);
  std::vector<double> k(t.size);
  for (int out = 0; out < outSize; out++) {
    const double center = (out + 0.5) * scale;
    const int lo = std::max(int(center - support + 0.5), 0);
    const int n = std::min(int(center + support + 0.5), inSize) - lo;
    double sum = 0;
    for (int i = 0; i < n; i++) {
      const double x = std::abs((i + lo - center + 0.5) * inverse);
      k[i] = x < 1 ? 1 - x : 0;
      sum += k[i];
    }
    for (int i = 0; i < n; i++) {
      const double w = sum != 0 ? k[i] / sum : k[i];
      t.weights[size_t(out) * t.size + i] = int32_t(w < 0 ? -0.5 + w * kOne : 0.5 + w * kOne);
    }
    t.first[out] = lo;
    t.count[out] = n;
  }
  return t;
}

// PIL clamps each sum to [0, 255]; with this filter it never needs to: the weights are
// non-negative and sum to ONE give or take half a unit each, so 255 * (ONE + n / 2) + HALF stays
// below 256 * ONE for any range shorter than 16,000 pixels (a reduction of 8,000 times).
inline uint8_t toByte(int32_t sum) { return uint8_t(sum >> kPrecisionBits); }

// The passes read through local __restrict pointers: uint8_t may alias anything, and without them
// every store of an output byte would make the compiler reload the weights and sums.

/** The horizontal pass over `rows` rows of `src` from `rowStart`. */
void horizontal(const Image& src, int rowStart, int rows, int outWidth, const Target& t) {
  const Taps k = taps(src.width, outWidth);
  const int* __restrict first = k.first.data();
  const int* __restrict count = k.count.data();
  const int32_t* __restrict weights = k.weights.data();
  const ptrdiff_t xStride = t.xStride, cStride = t.cStride;
  for (int y = 0; y < rows; y++) {
    const uint8_t* __restrict row = src.data + (rowStart + y) * src.stride;
    uint8_t* __restrict o = t.row(y);
    for (int x = 0; x < outWidth; x++, o += xStride) {
      const int32_t* __restrict w = weights + size_t(x) * k.size;
      const uint8_t* __restrict p = row + first[x] * 3;
      int32_t r = kHalf, g = kHalf, b = kHalf;
      for (int i = 0, n = count[x]; i < n; i++, p += 3) {
        r += p[0] * w[i];
        g += p[1] * w[i];
        b += p[2] * w[i];
      }
      o[0] = toByte(r);
      o[cStride] = toByte(g);
      o[2 * cStride] = toByte(b);
    }
  }
}

/**
 * The vertical pass; `k` indexes rows of `src` from `rowShift` on. Its multiply-adds vectorise, and
 * an AVX2 variant, chosen when the addon loads on a CPU that has it, does 8 at a time where the
 * baseline x86-64 (SSE2, no 32-bit vector multiply) manages 4 awkwardly: a fifth of the resize time.
 */
__attribute__((target_clones("avx2", "default"))) void vertical(const Image& src, const Taps& k, int rowShift,
                                                                 int outHeight, const Target& t) {
  const size_t values = size_t(src.width) * 3;
  std::vector<int32_t> sums(values);
  int32_t* __restrict sum = sums.data();
  const ptrdiff_t xStride = t.xStride, cStride = t.cStride;
  for (int y = 0; y < outHeight; y++) {
    std::fill(sum, sum + values, kHalf);
    const int32_t* w = &k.weights[size_t(y) * k.size];
    for (int i = 0; i < k.count[y]; i++) {
      const uint8_t* __restrict row = src.data + (k.first[y] - rowShift + i) * src.stride;
      const int32_t weight = w[i];
      for (size_t j = 0; j < values; j++) sum[j] += row[j] * weight;
    }
    uint8_t* __restrict o = t.row(y);
    for (size_t p = 0; p < values; p += 3, o += xStride) {
      o[0] = toByte(sum[p]);
      o[cStride] = toByte(sum[p + 1]);
      o[2 * cStride] = toByte(sum[p + 2]);
    }
  }
}

/** PIL's Image.resize(size, BILINEAR) written to `t`: each pass only when its axis changes size. */
void resizeTo(const Image& src, int width, int height, const Target& t, Arena& arena) {
  if (width == src.width && height == src.height) return emit(src, t);
  if (height == src.height) return horizontal(src, 0, src.height, width, t);
  const Taps k = taps(src.height, height);
  if (width == src.width) return vertical(src, k, 0, height, t);
  // Only the rows the vertical pass reads go through the horizontal one.
  const int firstRow = k.first[0];
  const int rows = k.first[height - 1] + k.count[height - 1] - firstRow;
  uint8_t* between = arena.take(size_t(rows) * width * 3);
  horizontal(src, firstRow, rows, width, packed(between, width));
  vertical({between, width, rows, ptrdiff_t(width) * 3}, k, firstRow, height, t);
}

Image resize(const Image& src, int width, int height, Arena& arena) {
  uint8_t* out = arena.take(size_t(width) * height * 3);
  resizeTo(src, width, height, packed(out, width), arena);
  return {out, width, height, ptrdiff_t(width) * 3};
}

Image crop(const Image& src, int left, int top, int width, int height) {
  if (left < 0 || top < 0 || width < 1 || height < 1 || left + width > src.width || top + height > src.height) {
    throw std::runtime_error("crop " + std::to_string(width) + "x" + std::to_string(height) + "+" +
                             std::to_string(left) + "+" + std::to_string(top) + " lies outside the " +
                             std::to_string(src.width) + "x" + std::to_string(src.height) + " image");
  }
  return {src.data + top * src.stride + left * 3, width, height, src.stride};
}

/** Zero padding on each side. */
Image pad(const Image& src, int left, int top, int right, int bottom, Arena& arena) {
  if (left < 0 || top < 0 || right < 0 || bottom < 0) throw std::runtime_error("padding must not be negative");
  const int width = src.width + left + right;
  const int height = src.height + top + bottom;
  uint8_t* out = arena.take(size_t(width) * height * 3);
  Target t = packed(out, width);
  t.origin = (ptrdiff_t(top) * width + left) * 3;
  emit(src, t);
  return {out, width, height, ptrdiff_t(width) * 3};
}

/** The whole picture turned counter-clockwise (a quarter turn swaps width and height). */
Image turn(const Image& src, int angle, Arena& arena) {
  const int width = angle == 180 ? src.width : src.height;
  const int height = angle == 180 ? src.height : src.width;
  uint8_t* out = arena.take(size_t(width) * height * 3);
  // Where the source pixel for output (0, 0) is, and how it moves with output x and y.
  const uint8_t* start;
  ptrdiff_t dx, dy;
  if (angle == 90) {
    start = src.data + (src.width - 1) * 3;
    dx = src.stride;
    dy = -3;
  } else if (angle == 180) {
    start = src.data + (src.height - 1) * src.stride + (src.width - 1) * 3;
    dx = -3;
    dy = -src.stride;
  } else {
    start = src.data + (src.height - 1) * src.stride;
    dx = -src.stride;
    dy = 3;
  }
  uint8_t* o = out;
  for (int y = 0; y < height; y++) {
    const uint8_t* p = start + y * dy;
    for (int x = 0; x < width; x++, o += 3, p += dx) {
      o[0] = p[0];
      o[1] = p[1];
      o[2] = p[2];
    }
  }
  return {out, width, height, ptrdiff_t(width) * 3};
}

/**
 * Where a quarter turn counter-clockwise of a width x height image lands when PIL keeps the canvas
 * (torchvision rotate, expand=False, NEAREST): the rotated picture is centred, and when the size
 * difference is odd PIL's nearest-neighbour ties put it half a pixel towards one side, which side
 * depending on the angle and orientation (found against PIL, checked by the tests). Returns the
 * offset of the canvas inside the rotated picture along the longer side.
 */
int quarterTurnOffset(int height, int width, int angle) {
  const int diff = std::abs(width - height);
  const bool towardsStart = (angle == 90) == (width > height);
  return towardsStart ? diff / 2 : (diff + 1) / 2;
}

/**
 * Counter-clockwise by `angle`, keeping the canvas as torchvision's rotate (expand=False) does: the
 * turned picture centred, its long side cut to the canvas, black bars along the short side.
 */
Image rotate(const Image& src, int angle, Arena& arena) {
  if (angle == 0) return src;
  if (angle != 90 && angle != 180 && angle != 270) {
    throw std::runtime_error("rotation must be 0, 90, 180 or 270 degrees, got " + std::to_string(angle));
  }
  const Image turned = turn(src, angle, arena);
  const int width = src.width, height = src.height;
  if (angle == 180 || width == height) return turned;
  const int offset = quarterTurnOffset(height, width, angle);
  const int diff = std::abs(width - height);
  return width > height ? pad(crop(turned, 0, offset, height, height), offset, 0, diff - offset, 0, arena)
                        : pad(crop(turned, offset, 0, width, width), 0, offset, 0, diff - offset, arena);
}

/** The operation codes of a program: five int32 per operation, the code then its arguments. */
enum Op : int32_t { kRotate = 0, kResize = 1, kPad = 2, kCrop = 3, kFlip = 4 };
constexpr size_t kOpLength = 5;

void fits(int width, int height, size_t capacity) {
  if (size_t(width) * height * 3 > capacity) {
    throw std::runtime_error("transformed to " + std::to_string(width) + "x" + std::to_string(height) +
                             ", which does not fit the output");
  }
}

/**
 * Applies the program to `src` and writes the result to the start of `dst` as CHW planes; returns
 * its size. Flips are deferred to the next operation that needs them, and a final resize writes the
 * planes itself, mirrored by the flips after it, so the common crop-resize-flip costs no copy
 * beyond the two passes.
 */
std::pair<int, int> transformInto(Image image, const int32_t* ops, size_t count, uint8_t* dst, size_t capacity) {
  Arena arena;
  size_t last = count;
  while (last > 0 && ops[(last - 1) * kOpLength] == kFlip) last--;
  const bool endsWithResize = last > 0 && ops[(last - 1) * kOpLength] == kResize;
  bool mirrored = false;
  for (size_t i = 0; i < count; i++) {
    const int32_t* op = ops + i * kOpLength;
    if (op[0] == kFlip) {
      mirrored = !mirrored;
      continue;
    }
    if (mirrored) {
      uint8_t* flat = arena.take(size_t(image.width) * image.height * 3);
      emit(image, {flat, ptrdiff_t(image.width - 1) * 3, ptrdiff_t(image.width) * 3, -3, 1});
      image = {flat, image.width, image.height, ptrdiff_t(image.width) * 3};
      mirrored = false;
    }
    switch (op[0]) {
      case kResize:
        if (op[1] < 1 || op[2] < 1) throw std::runtime_error("resize to an empty image");
        if (endsWithResize && i == last - 1) {
          fits(op[1], op[2], capacity);
          const bool flipsAfter = (count - last) % 2 == 1;
          resizeTo(image, op[1], op[2], planar(dst, op[1], op[2], flipsAfter), arena);
          return {op[1], op[2]};
        }
        image = resize(image, op[1], op[2], arena);
        break;
      case kRotate:
        image = rotate(image, op[1], arena);
        break;
      case kPad:
        image = pad(image, op[1], op[2], op[3], op[4], arena);
        break;
      case kCrop:
        image = crop(image, op[1], op[2], op[3], op[4]);
        break;
      default:
        throw std::runtime_error("unknown operation code " + std::to_string(op[0]));
    }
  }
  fits(image.width, image.height, capacity);
  emit(image, planar(dst, image.width, image.height, mirrored));
  return {image.width, image.height};
}

int dimension(const Napi::Value& value, const char* name) {
  const double number = value.IsNumber() ? value.As<Napi::Number>().DoubleValue() : -1;
  if (!(number >= 1 && number <= 1 << 16) || number != int(number)) {
    throw Napi::RangeError::New(value.Env(), std::string(name) + " must be an integer from 1 to 65536");
  }
  return int(number);
}

Napi::Uint8Array bytesArgument(const Napi::Value& value, const char* name) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(value.Env(), std::string(name) + " must be a Uint8Array");
  }
  return value.As<Napi::Uint8Array>();
}

class ImageAddon : public Napi::Addon<ImageAddon> {
 public:
  ImageAddon(Napi::Env env, Napi::Object exports) : decompressor_(tjInitDecompress()) {
    if (!decompressor_) throw Napi::Error::New(env, std::string("TurboJPEG: ") + tjGetErrorStr2(nullptr));
    DefineAddon(exports, {InstanceMethod("decodeJpeg", &ImageAddon::DecodeJpeg),
                          InstanceMethod("transform", &ImageAddon::Transform)});
  }

  ~ImageAddon() { tjDestroy(decompressor_); }

 private:
  /**
   * decodeJpeg(bytes, scaleDenom, into) -> {width, height, decoded} | null. Packed RGB at 1/1, 1/2,
   * 1/4 or 1/8 size (the IDCT does the scaling) written to the start of `into`; grey JPEGs come out
   * as RGB. When `into` is too small nothing is decoded (`decoded` false) and the caller allocates
   * width x height x 3 bytes and calls again: the addon never allocates an ArrayBuffer itself, since
   * V8 aborts the whole process when such an allocation fails (napi_create_arraybuffer), where
   * JavaScript's own allocation throws a RangeError the loader reports for that image. Null for
   * CMYK/YCCK (their colour conversion is libvips' job) and for anything TurboJPEG reports,
   * warnings included, so the caller's other decoder can name the problem.
   */
  Napi::Value DecodeJpeg(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const Napi::Uint8Array bytes = bytesArgument(info[0], "bytes");
    const int denom = info[1].IsNumber() ? info[1].As<Napi::Number>().Int32Value() : 0;
    if (denom != 1 && denom != 2 && denom != 4 && denom != 8) {
      throw Napi::RangeError::New(env, "scaleDenom must be 1, 2, 4 or 8");
    }
    Napi::Uint8Array into = bytesArgument(info[2], "into");
    int width, height, subsampling, colorspace;
    if (bytes.ByteLength() == 0 || tjDecompressHeader3(decompressor_, bytes.Data(), bytes.ByteLength(), &width,
                                                       &height, &subsampling, &colorspace) != 0) {
      return env.Null();
    }
    if (colorspace == TJCS_CMYK || colorspace == TJCS_YCCK) return env.Null();
    // Larger images are left to the other decoder, which refuses them by name (sharp's default limit).
    if (width < 1 || height < 1 || double(width) * height > double(kMaxPixels)) return env.Null();
    const tjscalingfactor factor{1, denom};
    const int outWidth = TJSCALED(width, factor);
    const int outHeight = TJSCALED(height, factor);
    Napi::Object result = Napi::Object::New(env);
    result.Set("width", outWidth);
    result.Set("height", outHeight);
    const bool fits = into.ByteLength() >= size_t(outWidth) * outHeight * 3;
    // The default (accurate) IDCT and fancy upsampling, as PIL decodes.
    if (fits && tjDecompress2(decompressor_, bytes.Data(), bytes.ByteLength(), into.Data(), outWidth, 0, outHeight,
                              TJPF_RGB, 0) != 0) {
      return env.Null();
    }
    result.Set("decoded", fits);
    return result;
  }

  /**
   * transform(pixels, width, height, program, out) -> {width, height}: applies the operations in
   * `program` (Int32Array, five values per operation) to packed RGB `pixels` and writes CHW planes
   * at the start of `out`.
   */
  Napi::Value Transform(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const Napi::Uint8Array pixels = bytesArgument(info[0], "pixels");
    const int width = dimension(info[1], "width");
    const int height = dimension(info[2], "height");
    if (pixels.ByteLength() < size_t(width) * height * 3) {
      throw Napi::RangeError::New(env, "pixels holds fewer than width x height x 3 bytes");
    }
    if (!info[3].IsTypedArray() || info[3].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array ||
        info[3].As<Napi::Int32Array>().ElementLength() % kOpLength != 0) {
      throw Napi::TypeError::New(env, "program must be an Int32Array of 5 values per operation");
    }
    const Napi::Int32Array program = info[3].As<Napi::Int32Array>();
    Napi::Uint8Array out = bytesArgument(info[4], "out");
    try {
      const auto [outWidth, outHeight] =
          transformInto({pixels.Data(), width, height, ptrdiff_t(width) * 3}, program.Data(),
                        program.ElementLength() / kOpLength, out.Data(), out.ByteLength());
      Napi::Object result = Napi::Object::New(env);
      result.Set("width", outWidth);
      result.Set("height", outHeight);
      return result;
    } catch (const std::exception& error) {
      throw Napi::Error::New(env, error.what());
    }
  }

  tjhandle decompressor_;
};

}  // namespace

NODE_API_ADDON(ImageAddon)
