"""Security groups of real nodes: nftables rules inside each node.

A port whose security groups were named (``OS::Neutron::Port``'s
``security_groups``, or ``OS::Nova::Server``'s for the ports it makes) gets
Neutron's ingress semantics in its node's network namespace: an nftables
table ``inet caas_sg`` whose input chain drops what no ingress rule of its
groups allows (replies to the node's own connections and loopback always
pass). Rules match protocol, port range, ``remote_ip_prefix`` and
``remote_group_id`` (the fixed IPs of the ports in that group, as they are
when the rules are made; they are made again when that changes). Egress is
not filtered, and a port with no group named, or only ``default``, is not
filtered (the ``default`` group of a cloud lets its members in; here
nothing tracks that membership for unnamed ports).

The rules are loaded with ``nft -f`` run inside the node's network
namespace (``nsenter --net``), in one transaction: the root namespace's
ruleset is never touched.
"""

import subprocess

TABLE = 'caas_sg'
_PROTOCOLS = {'tcp': 'tcp', 'udp': 'udp', 'icmp': 'icmp', 'sctp': 'sctp',
              '6': 'tcp', '17': 'udp', '1': 'icmp', '132': 'sctp'}


def _groups(cloud, port):
    """The security group records named on a port (``default`` and
    unknown names left out); None when the port is not filtered."""
    named = [g for g in port.get('security_groups') or [] if g != 'default']
    if not named:
        return None
    return [cloud.data['security_groups'][g] for g in named
            if g in cloud.data['security_groups']]


def _members(cloud, group_id):
    return sorted({p['fixed_ip'] for p in cloud.data['ports'].values()
                   if group_id in (p.get('security_groups') or [])
                   and p.get('fixed_ip')})


def _rule(cloud, rule, group_id):
    """The nft statement of one Neutron rule; None if it cannot match an
    IPv4 ingress packet."""
    if (rule.get('direction') or 'ingress') != 'ingress' or \
            (rule.get('ethertype') or 'IPv4') != 'IPv4':
        return None
    parts = []
    remote_group = rule.get('remote_group_id')
    prefix = rule.get('remote_ip_prefix')
    mode = rule.get('remote_mode') or ('remote_group_id' if remote_group
                                       else 'remote_ip_prefix')
    if mode == 'remote_group_id':
        members = _members(cloud, remote_group or group_id)
        if not members:
            return None
        parts.append('ip saddr { %s }' % ', '.join(members))
    elif prefix:
        parts.append('ip saddr %s' % prefix)
    protocol = rule.get('protocol')
    if protocol not in (None, '', 'any'):
        name = _PROTOCOLS.get(str(protocol).lower())
        parts.append('meta l4proto %s' % (name or int(protocol)))
        low, high = rule.get('port_range_min'), rule.get('port_range_max')
        if name in ('tcp', 'udp', 'sctp') and (low is not None or
                                               high is not None):
            low = int(low if low is not None else high)
            high = int(high if high is not None else low)
            parts.append('%s dport %s' % (
                name, low if low == high else '%d-%d' % (low, high)))
    return ' '.join(parts + ['accept'])


def ruleset(cloud, ports):
    """The nft script for a node with these port records (under the
    cloud's lock); None when none of them is filtered."""
    statements = []
    filtered = False
    for port in ports:
        groups = _groups(cloud, port)
        if groups is None:
            continue
        filtered = True
        for group in groups:
            for rule in group.get('rules') or []:
                line = _rule(cloud, rule, group['id'])
                if line:
                    statements.append(line)
    if not filtered:
        return None
    body = '\n'.join('    %s' % s for s in sorted(set(statements)))
    return ('table inet %(t)s {\n'
            '  chain ingress {\n'
            '    type filter hook input priority 0; policy drop;\n'
            '    ct state established,related accept\n'
            '    iifname "lo" accept\n'
            '%(body)s\n'
            '  }\n'
            '}\n') % {'t': TABLE, 'body': body}


def apply(netns_name, script):
    """Replace the node's table by ``script`` (None: no table), atomically,
    inside the node's network namespace."""
    # Declaring the table first makes the delete valid when it is absent.
    text = 'table inet %s\ndelete table inet %s\n' % (TABLE, TABLE)
    if script:
        text += script
    subprocess.run(['nsenter', '--net=/run/netns/%s' % netns_name, 'nft',
                    '-f', '-'], input=text, text=True, capture_output=True,
                   timeout=30, check=True)
