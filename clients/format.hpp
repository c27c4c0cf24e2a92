#pragma once
// Numbers as a check's observed text shows them: "12.5", "0.70".
#include <ios>
#include <sstream>
#include <string>

namespace netlab {

inline std::string fixed(double value, int decimals = 1) {
  std::ostringstream text;
  text.setf(std::ios::fixed);
  text.precision(decimals);
  text << value;
  return text.str();
}

}  // namespace netlab
