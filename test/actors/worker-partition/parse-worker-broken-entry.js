// A parse worker entry that cannot load, for parse-worker.test.ts ("a worker that cannot load…").
throw new Error("this worker cannot load");
