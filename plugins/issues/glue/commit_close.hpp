// Closing issues from commit messages ("fixes #12"; docs/issues.md). The replication plugin
// publishes a `refs` event on the node that received a push (docs/protocol.md). On that node
// only, for an update of the mirror's default branch (its HEAD), the new commits are read from
// the mirror with libgit2, newest first and at most max_commits, and every closing ref in
// their messages that resolves to an open issue is closed with the commit's id.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "board.hpp"

namespace mesh::issues {

struct RefUpdate {
  std::string ref, old_oid, new_oid;  // 40 zeros: absent
};
struct RefsEvent {
  std::string repo;
  std::vector<RefUpdate> updates;
};

// The payload of a `refs` event, checked: a valid repo, at most 1000 updates, refs/heads/* or
// refs/tags/*, oids of 40 or 64 lower-case hex digits. nullopt (and why) otherwise. A repo's
// removal or restore ("op":"remove"/"restore") is a RefsEvent without updates.
std::optional<RefsEvent> parse_refs_event(std::string_view payload, std::string* error);

struct CommitMessage {
  std::string oid, message;
};

struct Walked {
  std::vector<CommitMessage> commits;  // oldest first
  std::string head;                    // the default branch, e.g. refs/heads/main ("" if none)
  bool truncated = false;              // more than max commits were new: the newest were read
  std::string error;                   // the mirror could not be read
};

// The commits that the updates of the mirror's HEAD branch bring (new ^old), at most `max`,
// the newest ones if there are more. Uses libgit2 on the calling thread (the caller owns the
// thread: libgit2 keeps per-thread state) and calls git_libgit2_init/shutdown around itself.
Walked new_commits(const std::filesystem::path& mirror, const std::vector<RefUpdate>& updates,
                   std::size_t max);

struct Closing {
  Op op;               // set_state closed, with the commit
  std::string ref;     // the issue as written, e.g. "#12"
  std::string commit;  // abbreviated, for the log
};
struct ClosePlan {
  std::vector<Closing> closes;
  std::vector<std::string> notes;  // refs that close nothing (unknown, ambiguous, closed)
};

// For the commits of a push to `repo`: one close per open issue named with a closing keyword
// (the first commit that names it, oldest first), in `repo` or in the repo the ref names.
ClosePlan plan_closes(const Board& board, const std::string& repo,
                      const std::vector<CommitMessage>& commits);

}  // namespace mesh::issues
