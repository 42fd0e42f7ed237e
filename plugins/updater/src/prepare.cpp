#include "prepare.hpp"

#include <sys/stat.h>

#include <system_error>

#include "archive.hpp"
#include "fsutil.hpp"
#include "rollback.hpp"
#include "settings.hpp"

namespace mesh::updater {
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kArchiveSuffix = ".tar.gz";

Result<Signature> checked_signature(const std::string& text, const PublicKey& key,
                                    const std::string& file_name) {
  auto sig = parse_signature(text);
  if (!sig) return sig.error();
  if (auto st = verify_signature_header(key, *sig, file_name); !st) return st.error();
  return *sig;
}

}  // namespace

Result<VerifiedFile> verify_and_extract(const fs::path& archive, const std::string& signature_text,
                                        const Candidate& c, const PrepareContext& ctx,
                                        const fs::path& target) {
  if (!ctx.key) return make_error(Errc::invalid, no_key_message());
  auto sig = checked_signature(signature_text, *ctx.key, c.archive_name);
  if (!sig) return sig.error();
  auto file = OpenFile::open_read(archive);
  if (!file) return file.error();
  Expectation expect{c.archive_name, c.size, c.sha256, ctx.max_archive_bytes};
  auto verified = verify_file(*file, *ctx.key, *sig, expect);
  if (!verified) return verified.error();
  std::string top = c.archive_name.substr(0, c.archive_name.size() - kArchiveSuffix.size());
  auto unpacked = extract_archive(*file, top, target);
  if (!unpacked) return unpacked.error();
  struct stat st {};
  fs::path bin = target / "bin" / "mesh";
  if (::lstat(bin.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || !(st.st_mode & S_IXUSR)) {
    std::error_code ec;
    fs::remove_all(target, ec);
    return make_error(Errc::unsafe_archive,
                      c.archive_name + " has no executable bin/mesh: it is not a mesh release");
  }
  return verified;
}

Result<Prepared> prepare_update(ReleaseSource& source, const PrepareContext& ctx,
                                const PrepareRequest& req) {
  Prepared p;
  p.source = source.describe();
  auto c = source.candidate(req.tag);
  if (!c) return c.error();
  p.candidate = *c;
  auto decision = decide(c->version, ctx.running, ctx.highest, req.force);
  if (!decision) {
    if (req.check_only && decision.error().code == Errc::rollback) {
      p.older = true;
      return p;
    }
    return decision.error();
  }
  if (*decision == Decision::up_to_date) {
    p.up_to_date = true;
    return p;
  }
  if (!ctx.key) {
    if (req.check_only) {
      p.note = no_key_message();
      return p;
    }
    return make_error(Errc::invalid, no_key_message());
  }
  // The small signature first: a wrong key, a forged or swapped signature, or a genuine one
  // for another file fails here, before megabytes are fetched.
  auto sig_text = source.signature(*c);
  if (!sig_text) return sig_text.error();
  if (auto sig = checked_signature(*sig_text, *ctx.key, c->archive_name); !sig) {
    return make_error(sig.error().code, "the signature of " + c->archive_name + " from " +
                                            p.source + " is refused: " + sig.error().message);
  }
  p.signed_ok = true;
  if (req.check_only) return p;

  if (!ctx.install) return make_error(Errc::invalid, "no install layout to update");
  std::error_code ec;
  fs::create_directories(ctx.work_dir, ec);
  if (ec)
    return make_error(Errc::io, "cannot create " + ctx.work_dir.string() + ": " + ec.message());
  fs::path dest = ctx.work_dir / c->archive_name;
  fs::remove(dest, ec);
  if (auto st = source.download(*c, dest, ctx.progress_for ? ctx.progress_for(*c) : Progress());
      !st)
    return st.error();
  auto version = c->version.str();
  if (auto st = clear_version_dir(*ctx.install, version); !st) {
    fs::remove(dest, ec);
    return st.error();
  }
  p.tree = ctx.install->version_dir(version);
  auto verified = verify_and_extract(dest, *sig_text, *c, ctx, p.tree);
  if (!verified) {
    fs::remove(dest, ec);
    return make_error(verified.error().code, c->archive_name + " from " + p.source +
                                                 " is refused: " + verified.error().message);
  }
  if (ctx.store) {
    if (auto st = ctx.store->put(dest, c->archive_name, *sig_text, to_hex(verified->digest.sha256));
        !st) {
      // Only the copy for members is lost: the update itself can go on.
      fs::remove(dest, ec);
    }
  } else {
    fs::remove(dest, ec);
  }
  return p;
}

}  // namespace mesh::updater
