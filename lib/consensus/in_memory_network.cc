#include "lib/consensus/in_memory_network.h"

namespace kmend::consensus_driver {
namespace {

class NetworkTransport : public Transport {
 public:
  NetworkTransport(InMemoryNetwork* net, std::string from) : net_(net), from_(std::move(from)) {}
  void Send(const std::string& to_uuid, const consensus::RaftMessagePB& msg) override {
    net_->Enqueue(from_, to_uuid, msg);
  }

 private:
  InMemoryNetwork* net_;
  std::string from_;
};

}  // namespace

InMemoryNetwork::InMemoryNetwork() : thread_([this] { Run(); }) {}

InMemoryNetwork::~InMemoryNetwork() {
  {
    absl::MutexLock l(&mu_);
    stop_ = true;
  }
  thread_.join();
}

void InMemoryNetwork::Register(const std::string& uuid, Receiver receiver) {
  absl::MutexLock l(&mu_);
  receivers_[uuid] = std::move(receiver);
}

void InMemoryNetwork::Unregister(const std::string& uuid) {
  absl::MutexLock l(&mu_);
  receivers_.erase(uuid);
  auto idle = [this, &uuid]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return delivering_to_ != uuid;
  };
  mu_.Await(absl::Condition(&idle));
}

std::unique_ptr<Transport> InMemoryNetwork::TransportFor(const std::string& from_uuid) {
  return std::make_unique<NetworkTransport>(this, from_uuid);
}

void InMemoryNetwork::Cut(const std::string& a, const std::string& b) {
  absl::MutexLock l(&mu_);
  cut_.insert({a, b});
  cut_.insert({b, a});
}

void InMemoryNetwork::Heal() {
  absl::MutexLock l(&mu_);
  cut_.clear();
}

void InMemoryNetwork::Enqueue(const std::string& from, const std::string& to,
                              const consensus::RaftMessagePB& msg) {
  absl::MutexLock l(&mu_);
  if (cut_.count({from, to})) return;
  queue_.emplace_back(to, msg);
}

void InMemoryNetwork::Run() {
  while (true) {
    std::pair<std::string, consensus::RaftMessagePB> item;
    Receiver receiver;
    {
      absl::MutexLock l(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stop_ || !queue_.empty();
      };
      mu_.Await(absl::Condition(&ready));
      if (stop_) return;
      item = std::move(queue_.front());
      queue_.pop_front();
      auto it = receivers_.find(item.first);
      if (it == receivers_.end()) continue;
      receiver = it->second;
      delivering_to_ = item.first;
    }
    receiver(item.second);
    absl::MutexLock l(&mu_);
    delivering_to_.clear();
  }
}

}  // namespace kmend::consensus_driver
