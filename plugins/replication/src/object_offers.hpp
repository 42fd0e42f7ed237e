// Objects sent by the node that has them, over a connection it opens itself: for members that
// cannot dial it (it listens on loopback only, or sits behind NAT or a firewall that drops
// inbound connections). A node whose fetches of a tip fail everywhere says so in a live
// "want" event naming the members that set the tip; each of those builds a pack of what the
// wanter lacks (`git pack-objects --revs --thin`, less what the wanter says it has) and POSTs
// it to the wanter's objects route, where `git index-pack --fix-thin --strict` checks every
// object before the pack joins the mirror. Only objects travel: refs still move only as the
// registry says, exactly as after a fetch.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mesh::repl {

inline constexpr const char* kWantTopic = "refs-want.live";
// POST <kObjectsRoute>/<repo>, members only; the body is a pack.
inline constexpr std::string_view kObjectsRoute = "/replication/v1/objects";
inline constexpr std::size_t kMaxWantOids = 64;  // tips asked for, and tips the wanter has

struct Want {
  std::string repo;
  std::vector<std::string> oids;  // the tips whose objects are missing
  std::vector<std::string> have;  // tips of the wanter's mirror (the pack leaves them out)
  std::vector<std::string> to;    // members asked to send ("mesh:...")
};

std::string want_payload(const Want& want);
// Validates the shape and every bound (repo name, at most kMaxWantOids 40-hex oids per list,
// at most 64 members); nullopt with *why otherwise.
std::optional<Want> parse_want(std::string_view payload, std::string* why);

// How git children run: the executable, PATH, and HOME (no user or system config is read).
struct GitEnv {
  std::string git_path;
  std::string path_env;
  std::string home;
};

// Writes to `out` a pack of the objects reachable from `tips` and not from `exclude` (which
// must exist here), thin (deltas may refer to excluded objects). Fails past max_bytes. ""
// on success with *size set, else why.
std::string write_pack(const GitEnv& env, const std::filesystem::path& git_dir,
                       const std::vector<std::string>& tips,
                       const std::vector<std::string>& exclude, const std::filesystem::path& out,
                       std::uint64_t max_bytes, std::uint64_t* size);

// Streams `length` bytes from `read` (>0 bytes read, 0 end, <0 error) into `git index-pack
// --stdin --fix-thin --strict` in git_dir. "" once the pack is verified and stored, else why
// (a pack that fails verification is not kept).
std::string index_pack(const GitEnv& env, const std::filesystem::path& git_dir,
                       const std::function<long(char*, std::size_t)>& read, std::uint64_t length);

}  // namespace mesh::repl
