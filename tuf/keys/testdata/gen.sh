#!/bin/sh
# Regenerates the test fixtures with OpenSSL, an implementation independent of
# Go's, so that the tests check interoperability and not only round trips.
# All keys here are throwaway test keys. Run from this directory: sh gen.sh
set -eu
export LC_ALL=C

printf 'Rampart keys test vector: {"_type":"root","version":1}\n' > message.bin

# Ed25519: pure Ed25519 over the message.
openssl genpkey -algorithm ed25519 -out ed25519.pem
openssl pkeyutl -sign -rawin -inkey ed25519.pem -in message.bin -out ed25519.sig

# ECDSA: DER (r, s) over SHA-256/384/512 for P-256/384/521; a PKIX public key
# and a self-signed certificate for each.
for c in p256:prime256v1:sha256 p384:secp384r1:sha384 p521:secp521r1:sha512; do
	n=${c%%:*}; rest=${c#*:}; curve=${rest%%:*}; hash=${rest#*:}
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:$curve -out ecdsa-$n.pem
	openssl pkey -in ecdsa-$n.pem -pubout -out ecdsa-$n.pub.pem
	openssl req -x509 -new -key ecdsa-$n.pem -subj "/CN=rampart keys test $n" -days 36500 -$hash -out ecdsa-$n.crt
	openssl dgst -$hash -sign ecdsa-$n.pem -out ecdsa-$n.sig message.bin
done

# The same P-256 key in SEC 1 ("EC PRIVATE KEY"), preceded by an
# "EC PARAMETERS" block as "openssl ecparam -genkey" writes it.
{ openssl ecparam -name prime256v1; openssl ec -in ecdsa-p256.pem 2>/dev/null; } > ecdsa-p256-sec1.pem

# The P-256 key encrypted (PBES2), which ParsePrivatePEM must refuse.
openssl pkcs8 -topk8 -in ecdsa-p256.pem -v2 aes-256-cbc -passout pass:test -out ecdsa-p256-encrypted.pem

# RSA 2048: RSASSA-PSS with SHA-256, MGF1-SHA-256, and two salt lengths
# (the hash length, and the maximum), both of which must verify.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa-2048.pem
openssl pkey -in rsa-2048.pem -pubout -out rsa-2048.pub.pem
openssl rsa -in rsa-2048.pem -traditional -out rsa-2048-pkcs1.pem 2>/dev/null
openssl req -x509 -new -key rsa-2048.pem -subj "/CN=rampart keys test rsa" -days 36500 -sha256 -out rsa-2048.crt
for salt in digest max; do
	openssl dgst -sha256 -sign rsa-2048.pem -sigopt rsa_padding_mode:pss \
		-sigopt rsa_pss_saltlen:$salt -sigopt rsa_mgf1_md:sha256 -out rsa-2048-pss-$salt.sig message.bin
done

# RSA 1024: too small for TUF.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 | openssl pkey -pubout -out rsa-1024.pub.pem

# genpkey writes private keys 0600; these are test keys, so make them readable.
chmod 644 *.pem
