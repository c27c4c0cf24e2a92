#pragma once
// A client's "observed" as JSON when some of what it describes is measured
// only in some runs: a std::optional member that holds nothing is left out of
// the object (Boost.JSON alone would write it as null), so the result has
// exactly the keys this run measured. A struct opts in with
//   friend void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const Observed& o) {
//     v = netlab::present_members(o);
//   }
#include <boost/describe/members.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value_from.hpp>
#include <boost/mp11/algorithm.hpp>

#include <optional>
#include <type_traits>

namespace netlab {

template <class T>
inline constexpr bool is_optional_v = false;
template <class T>
inline constexpr bool is_optional_v<std::optional<T>> = true;

// The described members of `value`, in their order, without the empty optionals.
template <class Described>
boost::json::object present_members(const Described& value) {
  boost::json::object out;
  boost::mp11::mp_for_each<boost::describe::describe_members<Described, boost::describe::mod_public>>([&](auto member) {
    const auto& field = value.*member.pointer;
    if constexpr (is_optional_v<std::decay_t<decltype(field)>>) {
      if (field) out[member.name] = boost::json::value_from(*field);
    } else {
      out[member.name] = boost::json::value_from(field);
    }
  });
  return out;
}

}  // namespace netlab
