package dev.samsa.test;

import java.util.List;

/** Run in a child JVM by LifecycleTest: starts a broker, prints its pid and directory, exits without closing it. */
public final class HookMain {
    public static void main(String[] args) throws Exception {
        SamsaBroker b = SamsaBroker.start(List.of());
        System.out.println("pid " + b.pid() + " dir " + b.directory());
        System.out.flush();
        System.exit(3); // the shutdown hook must stop the broker
    }
}
