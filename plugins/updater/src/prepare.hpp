// The part of `mesh update` before the restart, SDK-free: ask a source, decide (up to date,
// upgrade, refused downgrade), fetch and check the signature, download, verify the archive
// (signature, size, sha256: verify_file), then check and extract it into
// versions/<version>/ and keep it for members. Nothing is unpacked before the verification,
// and every failure leaves nothing behind.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "archive_store.hpp"
#include "layout.hpp"
#include "minisign.hpp"
#include "semver.hpp"
#include "source.hpp"

namespace mesh::updater {

struct PrepareRequest {
  std::optional<std::string> tag;  // --ref
  bool force = false;              // --force: allow an older version
  bool check_only = false;         // --check: stop after the decision (and the signature)
};

struct PrepareContext {
  std::optional<PublicKey> key;  // none: refused (check_only still reports)
  SemVer running;
  std::optional<SemVer> highest;     // anti-rollback mark
  std::filesystem::path work_dir;    // downloads in progress (<data>/tmp)
  ArchiveStore* store = nullptr;     // where verified archives are kept (may be null)
  const Install* install = nullptr;  // required unless check_only
  std::uint64_t max_archive_bytes = 512ull << 20;
  // Makes the download's progress callback once the archive is known (may be empty).
  std::function<Progress(const Candidate&)> progress_for;
};

struct Prepared {
  std::string source;
  Candidate candidate;
  bool up_to_date = false;
  bool older = false;          // the source's release is older than the running version
  bool signed_ok = false;      // the signature header verified (check_only with a key)
  std::string note;            // why not verified, for --check
  std::filesystem::path tree;  // versions/<version>, after extraction
};

Result<Prepared> prepare_update(ReleaseSource& source, const PrepareContext& ctx,
                                const PrepareRequest& req);

// The last steps on a downloaded archive: verify_file (signature over the content, trusted
// comment naming it, size, sha256), the archive checks, extraction to `target`, and a
// bin/mesh in it.
Result<VerifiedFile> verify_and_extract(const std::filesystem::path& archive,
                                        const std::string& signature_text, const Candidate& c,
                                        const PrepareContext& ctx,
                                        const std::filesystem::path& target);

}  // namespace mesh::updater
