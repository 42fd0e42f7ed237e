#include "repo_locks.hpp"

namespace mesh::repl {

RepoLocks::Guard::Guard(RepoLocks& locks, std::string name)
    : locks_(locks), name_(std::move(name)) {
  {
    std::lock_guard lock(locks_.mu_);
    auto& entry = locks_.map_[name_];
    if (!entry.first) entry.first = std::make_shared<std::mutex>();
    ++entry.second;
    mu_ = entry.first;
  }
  mu_->lock();
  locked_ = true;
}

void RepoLocks::Guard::release() {
  if (!locked_) return;
  locked_ = false;
  mu_->unlock();
  std::lock_guard lock(locks_.mu_);
  auto it = locks_.map_.find(name_);
  if (--it->second.second == 0) locks_.map_.erase(it);
}

}  // namespace mesh::repl
