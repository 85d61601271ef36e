/** ACME certificates (HTTP-01) for TLS listeners. @module */
export { AcmeCertManager, type AcmeCertManagerOptions, type RenewCallback } from "./manager.ts";
export { type CachedCert, CertCache } from "./cache.ts";
export { Http01Responder } from "./challenge.ts";
export { type CertInfo, coversHostnames, readCertInfo, renewAt } from "./cert_info.ts";
export { ReloadableTlsServer, type ReloadableTlsServerOptions } from "./tls_reload.ts";
