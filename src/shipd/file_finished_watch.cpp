#include "file_finished_watch.hpp"

#include <spdlog/spdlog.h>

#include <cstring>
#include <stdexcept>
#include <thread>

namespace pcap_recorder::shipd {
namespace {

std::runtime_error busError(const std::string& bus, const char* what, int result) {
  return std::runtime_error(bus + ": " + what + ": " + std::strerror(-result));
}

}  // namespace

FileFinishedWatch::FileFinishedWatch(dbus::BusKind kind) : busName_(dbus::busDescription(kind)) {
  sd_bus* bus = nullptr;
  const int opened =
      kind == dbus::BusKind::system ? sd_bus_open_system(&bus) : sd_bus_open_user(&bus);
  if (opened < 0) throw busError(busName_, "cannot connect", opened);
  bus_.reset(bus);
  const std::string rule = std::string("type='signal',path='") + dbus::kObjectPath +
                           "',interface='" + dbus::kInterface + "',member='" + dbus::kFileFinished +
                           "'";
  sd_bus_slot* slot = nullptr;
  // Synchronous: once the constructor returns, no later signal can be missed.
  const int added = sd_bus_add_match(bus_.get(), &slot, rule.c_str(), onSignal, this);
  if (added < 0) throw busError(busName_, "cannot subscribe to FileFinished", added);
  match_.reset(slot);
}

int FileFinishedWatch::onSignal(sd_bus_message* message, void* self, sd_bus_error*) {
  const char* path = nullptr;
  if (sd_bus_message_skip(message, "s") >= 0 && sd_bus_message_read(message, "s", &path) > 0) {
    spdlog::debug("FileFinished: {}", path);
  }
  ++static_cast<FileFinishedWatch*>(self)->heard_;
  return 0;
}

std::size_t FileFinishedWatch::wait(std::chrono::milliseconds timeout) {
  heard_ = 0;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int processed;
    while ((processed = sd_bus_process(bus_.get(), nullptr)) > 0) {
    }
    if (processed < 0) throw busError(busName_, "connection lost", processed);
    const auto now = std::chrono::steady_clock::now();
    if (heard_ > 0 || now >= deadline) return heard_;
    const auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - now);
    const int waited = sd_bus_wait(bus_.get(), static_cast<std::uint64_t>(left.count()));
    if (waited < 0 && waited != -EINTR) throw busError(busName_, "connection lost", waited);
    if (waited < 0) return heard_;  // a signal to stop, most likely: let the caller look
  }
}

bool waitForWork(std::unique_ptr<FileFinishedWatch>& watch, std::chrono::milliseconds period,
                 bool wakeOnSignal, const volatile std::sig_atomic_t& stopping) {
  constexpr std::chrono::milliseconds kSlice{200};  // how soon a stop is seen
  for (auto waited = std::chrono::milliseconds(0); waited < period && !stopping; waited += kSlice) {
    if (!watch) {
      std::this_thread::sleep_for(kSlice);
      continue;
    }
    try {
      if (watch->wait(kSlice) > 0 && wakeOnSignal) return true;
    } catch (const std::runtime_error& error) {
      spdlog::warn("{}; rescanning every few seconds instead", error.what());
      watch.reset();
    }
  }
  return false;
}

}  // namespace pcap_recorder::shipd
