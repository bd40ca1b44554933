#!/bin/bash
# devstack entry point of caas: devstack sources this file with a mode and
# a phase ("stack install", "stack post-config", ...); the work is done by
# the functions in lib/caas.

CAAS_PLUGIN_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/caas
source "$CAAS_PLUGIN_DIR/lib/caas"

if is_service_enabled caas-api caas-cond; then
    if [[ "$1" == "stack" && "$2" == "install" ]]; then
        echo_summary "Installing caas"
        install_caas
    elif [[ "$1" == "stack" && "$2" == "post-config" ]]; then
        echo_summary "Configuring caas"
        create_caas_accounts
        configure_caas
        init_caas
    elif [[ "$1" == "stack" && "$2" == "extra" ]]; then
        echo_summary "Starting caas"
        start_caas
    fi

    if [[ "$1" == "unstack" ]]; then
        stop_caas
    fi

    if [[ "$1" == "clean" ]]; then
        cleanup_caas
    fi
fi
