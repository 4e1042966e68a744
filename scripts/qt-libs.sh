# shellcheck shell=bash
# The Debian packages Qt 6 (PySide6-Essentials 6.11 wheels, xcb and offscreen
# platforms) needs at run time. Sourced by scripts/venv.sh, so ./studio and
# ./check install them on a fresh machine; .ci/run relies on the same.
#
# Derived from the DT_NEEDED entries of the wheel's QtCore/QtGui/QtWidgets/
# QtOpenGL/QtSvg/QtTest/QtDBus bindings, their libQt6*.so, and the plugins
# platforms/{xcb,offscreen,minimal}, xcbglintegrations, imageformats,
# iconengines, platforminputcontexts, generic, mapped to Debian 12 packages
# with dpkg -S (apt pulls in the transitive deps). Wayland, gtk3-theme, sql and
# webengine plugins are not needed.
QT_RUNTIME_PACKAGES=(
    libegl1 libgl1 libglib2.0-0 libdbus-1-3 libfontconfig1 libfreetype6
    libxkbcommon0 libxkbcommon-x11-0 libx11-6 libx11-xcb1
    libxcb1 libxcb-cursor0 libxcb-glx0 libxcb-icccm4 libxcb-image0
    libxcb-keysyms1 libxcb-randr0 libxcb-render0 libxcb-render-util0
    libxcb-shape0 libxcb-shm0 libxcb-sync1 libxcb-util1 libxcb-xfixes0
    libxcb-xkb1
    fonts-dejavu-core
)

# Install the missing ones: as root with apt-get, else through sudo if it needs no
# password; otherwise say exactly what to run. No dpkg (not Debian): nothing to do.
mg_ensure_qt_libs() {
    command -v dpkg-query >/dev/null 2>&1 || return 0
    local installed missing=() pkg
    installed=" $(dpkg-query -W -f='${Package}:${Status}\n' "${QT_RUNTIME_PACKAGES[@]}" 2>/dev/null \
        | sed -n 's/:install ok installed$//p' | tr '\n' ' ') "
    for pkg in "${QT_RUNTIME_PACKAGES[@]}"; do
        [[ "$installed" == *" $pkg "* ]] || missing+=("$pkg")
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    local sudo=()
    if [[ "$(id -u)" != 0 ]]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            sudo=(sudo -n)
        else
            echo "scripts/qt-libs.sh: Qt needs these system libraries; as root run:" >&2
            echo "  apt-get install -y ${missing[*]}" >&2
            return 1
        fi
    fi
    echo "==> apt-get install ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get update -q -o Acquire::Retries=3 </dev/null >&2
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends \
        -o Acquire::Retries=3 "${missing[@]}" </dev/null >&2
}
