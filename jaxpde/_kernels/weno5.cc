// Reverse pass of the paired WENO5 face values of a cell (see jaxpde/fv/_reconstruct.py).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

namespace {

constexpr int kRows[2][3][5] = {
    {{2, -7, 11, 0, 0}, {0, -1, 5, 2, 0}, {0, 0, 2, 5, -1}},
    {{-1, 5, 2, 0, 0}, {0, 2, 5, -1, 0}, {0, 0, 11, -7, 2}},
};
constexpr double kIdeal[2][3] = {{0.1, 0.6, 0.3}, {0.3, 0.6, 0.1}};

template <typename V>
inline V Min(V a, V b) { return a < b ? a : b; }
template <typename V>
inline V Abs(V a) { return a < 0 ? -a : a; }

// One side's contribution (s = 0: the right face, 1: the left face) to the five cotangents.
template <typename V, typename S, bool z, int s>
inline void Side(const V* v, const V* shape, const V* inv, const V* ratio, const V* r, V sgn, const V (*db)[5], V g,
                 V* out) {
  V q[3], alpha[3];
  for (int k = 0; k < 3; ++k) {
    V acc = v[0] * S(0);
    for (int j = 0; j < 5; ++j)
      if (kRows[s][k][j] != 0) acc += S(kRows[s][k][j]) * v[j];
    q[k] = acc * S(1.0 / 6.0);
    alpha[k] = S(kIdeal[s][k]) * shape[k];
  }
  const V inv_total = S(1) / (alpha[0] + alpha[1] + alpha[2]);
  const V face = (alpha[0] * q[0] + alpha[1] * q[1] + alpha[2] * q[2]) * inv_total;
  V w[3], sens[3], dbeta[3];
  for (int k = 0; k < 3; ++k) {
    w[k] = alpha[k] * inv_total;
    sens[k] = (q[k] - face) * inv_total;
  }
  if constexpr (z) {
    V gain[3];
    for (int k = 0; k < 3; ++k) {
      const V full = S(2 * kIdeal[s][k]) * r[k] * inv[k];
      gain[k] = (ratio[k] < S(1e15) ? full : full * S(0)) * sens[k];
    }
    const V dtau = (gain[0] + gain[1] + gain[2]) * sgn;
    dbeta[0] = dtau - gain[0] * r[0];
    dbeta[1] = -gain[1] * r[1];
    dbeta[2] = -dtau - gain[2] * r[2];
  } else {
    for (int k = 0; k < 3; ++k) dbeta[k] = S(-2) * sens[k] * alpha[k] * inv[k];
  }
  for (int j = 0; j < 5; ++j) {
    V coef = (S(kRows[s][0][j]) * w[0] + S(kRows[s][1][j]) * w[1] + S(kRows[s][2][j]) * w[2]) * S(1.0 / 6.0);
    for (int m = 0; m < 3; ++m)
      if (m <= j && j <= m + 2) coef += dbeta[m] * db[m][j];
    out[j] += coef * g;
  }
}

template <typename V, typename S, bool z>
inline void Cell(const V* v, V gp, V gm, S eps, V* out) {
  const V a = v[0], b = v[1], c = v[2], d = v[3], e = v[4];
  const V l1 = a - S(2) * b + c, l2 = a - S(4) * b + S(3) * c;
  const V m1 = b - S(2) * c + d, m2 = b - d;
  const V n1 = c - S(2) * d + e, n2 = S(3) * c - S(4) * d + e;
  const S k12 = S(13) / S(12), k6 = S(13) / S(6);
  const V beta[3] = {k12 * l1 * l1 + S(0.25) * l2 * l2, k12 * m1 * m1 + S(0.25) * m2 * m2,
                     k12 * n1 * n1 + S(0.25) * n2 * n2};
  V inv[3], shape[3], ratio[3], r[3];
  for (int k = 0; k < 3; ++k) inv[k] = S(1) / (beta[k] + eps);
  const V diff = beta[0] - beta[2];
  if constexpr (z) {
    const V tau = Abs(diff);
    for (int k = 0; k < 3; ++k) {
      ratio[k] = tau * inv[k];
      r[k] = Min(ratio[k], ratio[k] * S(0) + S(1e15));
      shape[k] = S(1) + r[k] * r[k];
    }
  } else {
    for (int k = 0; k < 3; ++k) {
      shape[k] = inv[k] * inv[k];
      ratio[k] = r[k] = inv[k] * S(0);
    }
  }
  const V one = diff * S(0) + S(1);
  const V sgn = (diff > 0 ? one : one * S(0)) - (diff < 0 ? one : one * S(0));
  const V zero = a * S(0);
  const V db[3][5] = {
      {k6 * l1 + S(0.5) * l2, S(-2) * k6 * l1 - S(2) * l2, k6 * l1 + S(1.5) * l2, zero, zero},
      {zero, k6 * m1 + S(0.5) * m2, S(-2) * k6 * m1, k6 * m1 - S(0.5) * m2, zero},
      {zero, zero, k6 * n1 + S(1.5) * n2, S(-2) * k6 * n1 - S(2) * n2, k6 * n1 + S(0.5) * n2},
  };
  for (int j = 0; j < 5; ++j) out[j] = zero;
  Side<V, S, z, 0>(v, shape, inv, ratio, r, sgn, db, gp, out);
  Side<V, S, z, 1>(v, shape, inv, ratio, r, sgn, db, gm, out);
}

template <typename S, bool z>
void Loop(size_t n, const S* const* in, S* const* res, S eps) {
  constexpr int W = 64 / sizeof(S);
  typedef S V __attribute__((vector_size(64)));
  size_t i = 0;
  for (; i + W <= n; i += W) {
    V v[5], out[5], gp, gm;
    for (int j = 0; j < 5; ++j) std::memcpy(&v[j], in[j] + i, sizeof(V));
    std::memcpy(&gp, in[5] + i, sizeof(V));
    std::memcpy(&gm, in[6] + i, sizeof(V));
    Cell<V, S, z>(v, gp, gm, eps, out);
    for (int j = 0; j < 5; ++j) std::memcpy(res[j] + i, &out[j], sizeof(V));
  }
  for (; i < n; ++i) {
    S v[5], out[5];
    for (int j = 0; j < 5; ++j) v[j] = in[j][i];
    Cell<S, S, z>(v, in[5][i], in[6][i], eps, out);
    for (int j = 0; j < 5; ++j) res[j][i] = out[j];
  }
}

template <ffi::DataType DT>
ffi::Error Weno5Cotangents(ffi::Buffer<DT> a, ffi::Buffer<DT> b, ffi::Buffer<DT> c, ffi::Buffer<DT> d,
                           ffi::Buffer<DT> e, ffi::Buffer<DT> gp, ffi::Buffer<DT> gm, ffi::ResultBuffer<DT> pa,
                           ffi::ResultBuffer<DT> pb, ffi::ResultBuffer<DT> pc, ffi::ResultBuffer<DT> pd,
                           ffi::ResultBuffer<DT> pe, int32_t z, double eps) {
  using S = ffi::NativeType<DT>;
  const S* in[7] = {a.typed_data(), b.typed_data(), c.typed_data(), d.typed_data(),
                    e.typed_data(), gp.typed_data(), gm.typed_data()};
  S* res[5] = {pa->typed_data(), pb->typed_data(), pc->typed_data(), pd->typed_data(), pe->typed_data()};
  if (z)
    Loop<S, true>(a.element_count(), in, res, S(eps));
  else
    Loop<S, false>(a.element_count(), in, res, S(eps));
  return ffi::Error::Success();
}

}  // namespace

#define BIND(DT)                                                                                   \
  ffi::Ffi::Bind()                                                                                 \
      .Arg<ffi::Buffer<DT>>().Arg<ffi::Buffer<DT>>().Arg<ffi::Buffer<DT>>().Arg<ffi::Buffer<DT>>() \
      .Arg<ffi::Buffer<DT>>().Arg<ffi::Buffer<DT>>().Arg<ffi::Buffer<DT>>()                        \
      .Ret<ffi::Buffer<DT>>().Ret<ffi::Buffer<DT>>().Ret<ffi::Buffer<DT>>().Ret<ffi::Buffer<DT>>() \
      .Ret<ffi::Buffer<DT>>()                                                                      \
      .Attr<int32_t>("z").Attr<double>("eps")

XLA_FFI_DEFINE_HANDLER_SYMBOL(Weno5CotangentsF64, Weno5Cotangents<ffi::F64>, BIND(ffi::F64));
XLA_FFI_DEFINE_HANDLER_SYMBOL(Weno5CotangentsF32, Weno5Cotangents<ffi::F32>, BIND(ffi::F32));
