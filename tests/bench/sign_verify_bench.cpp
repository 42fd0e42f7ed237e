// Event throughput with a 1 KiB payload: sign_event + encode + decode + verify per event, over
// about 2 s, printed next to a baseline measured in the same run: raw libsodium
// crypto_sign_detached + crypto_sign_verify_detached on as many bytes as the event's signature
// covers. Figures only: nothing here asserts a rate.
#include <sodium.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "mesh/gossip/event.hpp"
#include "mesh/identity/identity.hpp"

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t kPayload = 1024;
constexpr auto kDuration = 2s;
constexpr std::uint64_t kWallMs = 1'700'000'000'000;  // fixed: well inside the skew limit

// Runs step() in batches until kDuration passed; returns events per second, or -1 if a step
// failed.
template <typename F>
double rate(F step, std::uint64_t& count) {
  count = 0;
  auto t0 = Clock::now();
  auto end = t0 + kDuration;
  Clock::time_point now;
  do {
    for (int i = 0; i < 64; ++i) {
      if (!step(count + 1)) return -1;
      ++count;
    }
    now = Clock::now();
  } while (now < end);
  return static_cast<double>(count) / std::chrono::duration<double>(now - t0).count();
}

}  // namespace

int main() {
  if (sodium_init() < 0) {
    std::fprintf(stderr, "sodium_init failed\n");
    return 1;
  }
  auto id = mesh::identity::Identity::generate();
  std::vector<std::uint8_t> payload(kPayload);
  randombytes_buf(payload.data(), payload.size());
  const auto origin = id.public_key();
  auto is_member = [&](const mesh::gossip::PublicKey& k) { return k == origin; };

  // The number of bytes an event's signature covers (domain prefix + unsigned encoding).
  auto probe = mesh::gossip::sign_event(id, 1, 1, kWallMs, "bench.event", payload);
  if (!probe) {
    std::fprintf(stderr, "sign_event failed: %s\n", probe.error().message.c_str());
    return 1;
  }
  const std::size_t signed_bytes = mesh::gossip::signing_input(*probe).size();
  const std::size_t wire_bytes = mesh::gossip::encode(*probe).size();

  std::size_t sink = 0;  // keeps the work observable
  std::uint64_t mesh_n = 0;
  double mesh_rate = rate(
      [&](std::uint64_t seq) {
        auto ev = mesh::gossip::sign_event(id, seq, seq, kWallMs, "bench.event", payload);
        if (!ev) return false;
        auto wire = mesh::gossip::encode(*ev);
        auto back = mesh::gossip::decode(wire);
        if (!back || back->seq != seq) return false;
        if (!mesh::gossip::verify(*back, kWallMs, is_member)) return false;
        sink += wire.size();
        return true;
      },
      mesh_n);
  if (mesh_rate < 0) {
    std::fprintf(stderr, "sign/encode/decode/verify failed\n");
    return 1;
  }

  // Baseline: raw ed25519 over a message of the same size.
  unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
  crypto_sign_keypair(pk, sk);
  std::vector<unsigned char> msg(signed_bytes);
  randombytes_buf(msg.data(), msg.size());
  unsigned char sig[crypto_sign_BYTES];
  std::uint64_t raw_n = 0;
  double raw_rate = rate(
      [&](std::uint64_t seq) {
        msg[0] = static_cast<unsigned char>(seq);  // a different message each time
        crypto_sign_detached(sig, nullptr, msg.data(), msg.size(), sk);
        if (crypto_sign_verify_detached(sig, msg.data(), msg.size(), pk) != 0) return false;
        sink += sig[0];
        return true;
      },
      raw_n);
  sodium_memzero(sk, sizeof sk);
  if (raw_rate < 0) {
    std::fprintf(stderr, "libsodium sign/verify failed\n");
    return 1;
  }

  std::printf(
      "bench sign-verify: sign_event+encode+decode+verify (%zu B payload, %zu B on the "
      "wire) %.0f events/s  | raw crypto_sign_detached+verify_detached on %zu B %.0f/s"
      "  | ratio %.2f  (%llu and %llu in ~%lld s each)\n",
      kPayload, wire_bytes, mesh_rate, signed_bytes, raw_rate, mesh_rate / raw_rate,
      static_cast<unsigned long long>(mesh_n), static_cast<unsigned long long>(raw_n),
      static_cast<long long>(kDuration.count()));
  return sink == 0 ? 1 : 0;
}
