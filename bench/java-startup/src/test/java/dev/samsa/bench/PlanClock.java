package dev.samsa.bench;

import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestPlan;

/**
 * Marks when the test plan starts executing: before any class-level
 * extension or condition runs (@EmbeddedKafka starts its broker in an
 * execution condition, @EmbeddedSamsa in beforeAll), so both are timed
 * from the same point. Registered through META-INF/services.
 */
public final class PlanClock implements TestExecutionListener {
    static volatile long startNanos;

    @Override
    public void testPlanExecutionStarted(TestPlan plan) {
        startNanos = System.nanoTime();
    }
}
