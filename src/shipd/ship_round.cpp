#include "ship_round.hpp"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <stop_token>
#include <thread>

#include <spdlog/spdlog.h>

namespace pcap_recorder::shipd {

RoundResult shipRound(const std::vector<FinishedFile>& files, unsigned parallelFiles,
                      FileShipper& shipper, const std::function<bool()>& stopping) {
  RoundResult result;
  std::mutex mutex;  // guards everything below and `result`
  std::condition_variable_any turn;
  std::size_t next = 0;
  std::size_t inFlight = 0;
  bool accepted = false;

  const auto accept = [&] {
    {
      std::lock_guard lock(mutex);
      if (accepted) return;
      accepted = true;
    }
    turn.notify_all();
  };
  const auto worker = [&](std::stop_token stop) {
    while (true) {
      std::size_t index = 0;
      {
        std::unique_lock lock(mutex);
        const auto over = [&] {
          return next >= files.size() || result.serverFailed || stop.stop_requested() || stopping();
        };
        // Before the server accepted anything, a file starts only when none is in flight.
        turn.wait(lock, stop, [&] { return over() || accepted || inFlight == 0; });
        if (over()) return;
        index = next++;
        ++inFlight;
      }
      FileOutcome outcome = FileOutcome::failed;
      try {
        outcome = shipper.ship(files[index], accept);
      } catch (const std::exception& error) {
        // FileShipper reports its failures as outcomes; anything else stays on this thread, and
        // the file counts as failed (tried again like any failed upload).
        spdlog::error("{}: not shipped: {}", files[index].path.string(), error.what());
      } catch (...) {
        spdlog::error("{}: not shipped: an unknown error", files[index].path.string());
      }
      {
        std::lock_guard lock(mutex);
        --inFlight;
        if (outcome == FileOutcome::shipped) {
          accepted = true;
          result.shipped.push_back(files[index].path);
        } else {
          result.failed.push_back(files[index].path);
          if (outcome == FileOutcome::serverFailed) result.serverFailed = true;
        }
      }
      turn.notify_all();
    }
  };

  const std::size_t threads = std::min<std::size_t>(std::max(1u, parallelFiles), files.size());
  std::vector<std::jthread> workers;
  workers.reserve(threads);
  for (std::size_t i = 0; i < threads; ++i) workers.emplace_back(worker);
  // join(), not the destructors: those ask the workers to stop first, which only an exception above
  // should (then no further file starts, and those in flight finish).
  for (auto& thread : workers) thread.join();
  return result;
}

void failingLast(std::vector<FinishedFile>& files, const std::set<std::filesystem::path>& failing) {
  if (failing.empty()) return;
  std::stable_partition(files.begin(), files.end(),
                        [&](const FinishedFile& file) { return failing.count(file.path) == 0; });
}

}  // namespace pcap_recorder::shipd
