/**
 * The secrets of a Login Flow v2 (docs/design.md, "Login Flow v2"), as Nextcloud keeps them:
 * the store never holds a readable app password, not even between the user's grant and the
 * app's poll, and neither the login token (in the browser's history) nor the store alone can
 * read it; only the poll token, which never leaves the app, can.
 *
 * At the start a flow gets an X25519 key pair: the public half in clear, the private half
 * sealed under the poll token. The grant encrypts the app password to the public half (an
 * ephemeral key and ECDH); the poll unseals the private half and decrypts.
 */
import { createPublicKey, diffieHellman, generateKeyPairSync, createPrivateKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { sealWith, unsealWith } from './passwords.js';

const der = (key: KeyObject, type: 'spki' | 'pkcs8') => key.export({ format: 'der', type }).toString('base64url');
const sharedSecret = (privateKey: KeyObject, publicKey: KeyObject) => diffieHellman({ privateKey, publicKey }).toString('base64url');
const publicFrom = (text: string) => createPublicKey({ key: Buffer.from(text, 'base64url'), format: 'der', type: 'spki' });

/** A new flow's key: its public half, and its private half sealed under the poll token. */
export function newFlowKey(pollToken: string): string {
  const { publicKey, privateKey } = generateKeyPairSync('x25519');
  return `${der(publicKey, 'spki')}~${sealWith(pollToken, der(privateKey, 'pkcs8'))}`;
}

/** The app password encrypted to the flow's public key. */
export function encryptToFlow(flowKey: string, appPassword: string): string {
  const [flowPublic] = flowKey.split('~');
  const ephemeral = generateKeyPairSync('x25519');
  return `${der(ephemeral.publicKey, 'spki')}~${sealWith(sharedSecret(ephemeral.privateKey, publicFrom(flowPublic!)), appPassword)}`;
}

/** The app password, for the holder of the poll token; undefined if anything does not match. */
export function decryptWithPollToken(flowKey: string, pollToken: string, encrypted: string): string | undefined {
  const sealedPrivate = flowKey.slice(flowKey.indexOf('~') + 1);
  const [ephemeralPublic, sealed] = encrypted.split('~');
  const privateDer = unsealWith(pollToken, sealedPrivate);
  if (privateDer === undefined || ephemeralPublic === undefined || sealed === undefined) return undefined;
  const privateKey = createPrivateKey({ key: Buffer.from(privateDer, 'base64url'), format: 'der', type: 'pkcs8' });
  return unsealWith(sharedSecret(privateKey, publicFrom(ephemeralPublic)), sealed);
}
