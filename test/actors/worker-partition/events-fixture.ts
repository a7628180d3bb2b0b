/** Builders of OpenPool event envelopes for the worker-partition tests (the producer's shape). */
export const W1 = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
export const W2 = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359";
export const W3 = "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB";
export const W4 = "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb";

let counter = 0;
export function eventId(): string {
  counter += 1;
  return `00000000-0000-4000-8000-${String(counter).padStart(12, "0")}`;
}

export interface EnvelopeOpts {
  id?: string;
  nodeType?: string;
  region?: string;
  dt?: string;
}

export function envelope(eventType: string, payload: Record<string, unknown>, o: EnvelopeOpts = {}): Record<string, unknown> {
  return {
    DT: o.dt ?? "2025-02-27T12:00:05Z",
    EventType: eventType,
    ID: o.id ?? eventId(),
    NodeType: o.nodeType ?? "transcode",
    Payload: payload,
    Region: o.region ?? "us-central",
    Version: 1,
  };
}

export function transcodeJob(ethAddress: string, fees: number | string, o: EnvelopeOpts & { computeUnits?: number; responseTime?: number; duration?: number } = {}) {
  const responseTime = o.responseTime ?? 800;
  const duration = o.duration ?? 2000;
  return envelope(
    "job-processed",
    {
      computeUnits: o.computeUnits ?? 2073600,
      duration,
      ethAddress,
      fees,
      pricePerComputeUnit: 1200,
      realTimeRatio: responseTime === 0 ? 0 : Math.trunc(duration / responseTime),
      responseTime,
    },
    o,
  );
}

export function aiReceived(ethAddress: string, requestID: string, o: EnvelopeOpts = {}) {
  return envelope(
    "job-received",
    { ethAddress, modelID: "ByteDance/SDXL-Lightning", pipeline: "text-to-image", requestID },
    { nodeType: "ai", ...o },
  );
}

export function aiProcessed(requestID: string, fees: number, o: EnvelopeOpts & { responseTimeNs?: number; modelID?: string; pipeline?: string } = {}) {
  return envelope(
    "job-processed",
    {
      computeUnits: 1048576,
      fees,
      modelID: o.modelID ?? "ByteDance/SDXL-Lightning",
      pipeline: o.pipeline ?? "text-to-image",
      pricePerComputeUnit: 750,
      requestID,
      responseTime: o.responseTimeNs ?? 2_500_000_000,
    },
    { nodeType: "ai", ...o },
  );
}

export function connected(ethAddress: string, connection: string, o: EnvelopeOpts = {}) {
  return envelope("worker-connected", { connection, ethAddress }, o);
}
export function disconnected(ethAddress: string, connection: string, o: EnvelopeOpts = {}) {
  return envelope("worker-disconnected", { connection, ethAddress }, o);
}
export function reset(o: EnvelopeOpts = {}) {
  return envelope("orchestrator-reset", {}, o);
}
