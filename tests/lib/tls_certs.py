"""Test certificates, made when the tests run with Debian's openssl: a CA and leaves for 127.0.0.1
and localhost, signed by it. Nothing is kept in the repository."""
import os
import subprocess


def _run(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                   timeout=60)


def make_ca(directory):
    """A CA in `directory`: returns the path of its certificate (ca.pem)."""
    os.makedirs(directory, exist_ok=True)
    _run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key",
         "-out", "ca.pem", "-days", "2", "-subj", "/CN=rtmpt-gateway test CA", cwd=directory)
    return os.path.join(directory, "ca.pem")


def make_leaf(directory, name="leaf", days=2, common_name="localhost", alt_names="DNS:localhost,IP:127.0.0.1"):
    """A leaf for localhost and 127.0.0.1 (or `alt_names`) signed by the CA of `directory`. Returns
    (fullchain, key): the chain file holds the leaf, then the CA, as Let's Encrypt's fullchain.pem does."""
    _run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", f"{name}.key",
         "-out", f"{name}.csr", "-subj", f"/CN={common_name}", cwd=directory)
    with open(os.path.join(directory, f"{name}.ext"), "w") as f:
        f.write(f"subjectAltName={alt_names}\nbasicConstraints=CA:FALSE\n")
    _run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
         "-out", f"{name}.pem", "-days", str(days), "-extfile", f"{name}.ext", cwd=directory)
    chain = os.path.join(directory, f"{name}-fullchain.pem")
    with open(chain, "w") as out:
        for part in (f"{name}.pem", "ca.pem"):
            with open(os.path.join(directory, part)) as f:
                out.write(f.read())
    return chain, os.path.join(directory, f"{name}.key")


def tls_yaml(certificate, key, listen='["127.0.0.1:0"]'):
    """The tls: section of a gateway config (to append to gateway_yaml's text)."""
    return f'tls:\n  listen: {listen}\n  certificate: "{certificate}"\n  key: "{key}"\n'


def make_combined(directory, name, alt_names, into):
    """A leaf for `alt_names` whose chain and key share one PEM file `into`/NAME.pem (the SNI directory's
    form, as HAProxy's crt directories). Returns that file's path."""
    chain, key = make_leaf(directory, name=name, common_name=name, alt_names=alt_names)
    os.makedirs(into, exist_ok=True)
    path = os.path.join(into, f"{name}.pem")
    with open(path, "w") as out:
        for part in (chain, key):
            with open(part) as f:
                out.write(f.read())
    return path
